"""The door of /scim/v2/, route by route: the policy matrix (tests/core/test_policy_matrix.py)
says every session and anonymous visitor gets 401; here, which tokens open it."""

import pytest

from tests.core.test_policy_matrix import RULES, routes, scim_url

pytestmark = pytest.mark.django_db


def test_scim_takes_only_a_live_token(client, admin_user):
    """Every SCIM route: a live bearer token opens it; a revoked, rotated-away or made-up
    token, or an admin's session, gets 401."""
    from scim.tokens import token_create, token_revoke, token_rotate

    _live, live = token_create(name="live")
    _old, revoked = token_create(name="old")
    token_revoke(name="old")
    _rot, rotated_away = token_create(name="rot")
    token_rotate(name="rot")
    client.force_login(admin_user)
    for pattern, _name in routes():
        if not pattern.startswith("scim/"):
            continue
        method, url = RULES[pattern][0], scim_url(pattern)
        ask = getattr(client, method)
        body = {"content_type": "application/scim+json", "data": {"schemas": [
            "urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": 'userName eq "x"'}} \
            if method == "post" else {}
        assert ask(url, HTTP_AUTHORIZATION=f"Bearer {live}", **body).status_code != 401, url
        for token in (revoked, rotated_away, "scim_made-up", ""):
            assert ask(url, HTTP_AUTHORIZATION=f"Bearer {token}", **body).status_code == 401, (url, token)
        assert ask(url, **body).status_code == 401, url
