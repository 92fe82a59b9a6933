import pytest

from scim.tokens import token_create
from tests.playground.helpers import close_orm_thread  # noqa: F401  (a fixture the socket test uses)

SCIM = "application/scim+json"


@pytest.fixture
def scim_token(db):
    return token_create(name="okta-test")[1]


class Scim:
    """Django's test client with the bearer token and SCIM's content type."""

    def __init__(self, client, token):
        self.client, self.headers = client, {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def __getattr__(self, method):
        def call(url, body=None, **extra):
            kwargs = {"content_type": SCIM} if body is not None else {}
            args = (url, body) if body is not None else (url,)
            return getattr(self.client, method)(*args, **kwargs, **self.headers, **extra)
        return call


@pytest.fixture
def scim(client, scim_token):
    return Scim(client, scim_token)


def user_body(username, *, department=None, active=True, **extra):
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": username,
            "name": {"givenName": username.title(), "familyName": "Doe"},
            "emails": [{"value": f"{username}@example.com", "primary": True, "type": "work"}],
            "active": active, **extra}
    if department is not None:
        body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] = {"department": department}
    return body
