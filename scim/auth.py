"""The door of /scim/v2/: a live bearer token, and nothing else. A browser session
counts for nothing here (an admin's cookie is not a directory)."""

import json

from django.http import HttpResponse
from django_scim import constants

from audit.models import Source
from audit.services import Origin, client_address

from .tokens import token_authenticate


class BearerTokenCheck:
    """django-scim2's AUTH_CHECK_MIDDLEWARE: wraps every SCIM view."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request, *args, **kwargs):
        token = token_authenticate(header=request.META.get("HTTP_AUTHORIZATION", ""))
        if token is None:
            body = {"schemas": [constants.SchemaURI.ERROR], "status": "401",
                    "detail": "A valid SCIM bearer token is required (Authorization: Bearer ...)."}
            response = HttpResponse(json.dumps(body), status=401, content_type=constants.SCIM_CONTENT_TYPE)
            response["WWW-Authenticate"] = 'Bearer realm="scim"'
            return response
        request.scim_origin = Origin(source=Source.SCIM, token=token.name, label=f"scim:{token.name}",
                                     address=client_address(request))
        return self.get_response(request, *args, **kwargs)


def base_location(request=None, *args, **kwargs) -> str:
    """Absolute locations follow the request's own scheme and host (behind the proxy:
    SECURE_PROXY_SSL_HEADER and ALLOWED_HOSTS)."""
    return request.build_absolute_uri("/") if request is not None else "/"
