"""Browser fixtures: Debian's chromium driven by Playwright (no browser download)."""

import os
import shutil
from urllib.parse import urlparse

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def browser():
    """Module-scoped: Playwright's sync API keeps an event loop running in this thread
    until it exits, which async tests in later modules must not inherit."""
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}. Install it with: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    # That running loop makes Django refuse the plain synchronous ORM calls that
    # tests make between browser steps; they are safe, so allow them meanwhile.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class PageWatch:
    """Collects console errors and any request to a host other than ours."""

    def __init__(self, page, base_url):
        self.errors, self.foreign = [], []
        ours = urlparse(base_url).netloc
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))

        def on_request(request):
            netloc = urlparse(request.url).netloc
            if netloc and netloc != ours and not request.url.startswith("data:"):
                self.foreign.append(request.url)

        page.on("request", on_request)
        # The console says only "status of 400"; name the URL so a failure can be traced.
        page.on("response", lambda r: r.status >= 400 and self.errors.append(f"{r.status} {r.request.method} {r.url}"))


@pytest.fixture
def page(browser, asgi_server):
    context = browser.new_context(base_url=asgi_server, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15000)
    page.watch = PageWatch(page, asgi_server)
    yield page
    context.close()
