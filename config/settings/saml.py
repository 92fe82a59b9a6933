"""pysaml2's service-provider configuration (djangosaml2's SAML_CONFIG), from a few values.

The checks the issue names are pysaml2's, and these keys keep them on: signed assertions
(`want_assertions_signed`), the audience (our entity id), `InResponseTo` against the
requests this browser made (`allow_unsolicited` off; djangosaml2 forgets each request once
answered, which is what refuses a replay) and the validity window (`accepted_time_diff`
seconds of clock skew, no more)."""

import shutil

from saml2 import BINDING_HTTP_POST
from saml2.saml import NAMEID_FORMAT_PERSISTENT


def saml_config(*, base_url: str, metadata_url: str = "", metadata_file: str = "", clock_skew: int = 60) -> dict:
    """`base_url` is how the IdP reaches this site (https://academy.example.com)."""
    base_url = base_url.rstrip("/")
    metadata = {"remote": [{"url": metadata_url}]} if metadata_url else {"local": [metadata_file]}
    return {
        "xmlsec_binary": shutil.which("xmlsec1") or "/usr/bin/xmlsec1",
        "entityid": f"{base_url}/accounts/sso/saml/metadata/",
        "allow_unknown_attributes": True,
        "accepted_time_diff": clock_skew,
        "service": {
            "sp": {
                "name": "LLM Academy",
                "endpoints": {
                    "assertion_consumer_service": [(f"{base_url}/accounts/sso/saml/acs/", BINDING_HTTP_POST)],
                },
                "allow_unsolicited": False,
                "authn_requests_signed": False,
                "want_assertions_signed": True,
                "want_response_signed": False,
                "name_id_format": NAMEID_FORMAT_PERSISTENT,
                "name_id_format_allow_create": True,
            },
        },
        "metadata": metadata,
        "debug": False,
    }
