from django.conf import settings
from django.http import Http404

from .errors import NotFound

# No third-party origin anywhere: every script, style, font and socket is ours.
# 'self' in connect-src covers same-origin ws:/wss: in CSP Level 3 browsers.
DEFAULT_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "frame-src 'self'",
        "frame-ancestors 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ]
)


class ContentSecurityPolicyMiddleware:
    """Send a strict Content-Security-Policy on every response.

    A view that needs a different policy (for example a sandboxed frame) sets its
    own header first; we leave that alone.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = getattr(settings, "CONTENT_SECURITY_POLICY", DEFAULT_CSP)

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


class DomainErrorMiddleware:
    """Answer the domain errors that views let through (core/errors.py) as HTTP: a
    NotFound is Django's 404 page, in the page's language.

    Sync only, on purpose, and last in MIDDLEWARE. Under ASGI, Django runs the chain in
    async mode from the innermost middleware outwards for as long as each one can; every
    MiddlewareMixin in async mode then hands each of its process_request/process_response
    calls to a thread and back, some twenty thread hand-offs per request here. A sync
    middleware innermost makes the whole chain sync: one thread per request runs all of
    it (bench/web_bench.py: the trivial view went from about 350-460 to 490-540
    requests/s on 2 processes).
    """

    sync_capable, async_capable = True, False

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, NotFound):
            raise Http404 from exception
        return None
