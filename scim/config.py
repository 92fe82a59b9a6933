"""What django-scim2 is told about us: the service provider configuration RFC 7644 §5
asks for (what we support, and the bearer-token scheme), and which rows SCIM sees."""

from django.contrib.auth import get_user_model
from django_scim.models import SCIMServiceProviderConfig


class ServiceProviderConfig(SCIMServiceProviderConfig):
    def to_dict(self):
        d = super().to_dict()
        d.update({
            "documentationUri": None,
            "patch": {"supported": True},
            "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": True, "maxResults": 200},
            "changePassword": {"supported": False},  # people sign in with the identity provider
            "sort": {"supported": False},
            "etag": {"supported": False},
            "authenticationSchemes": [{
                "type": "oauthbearertoken", "name": "Bearer token", "primary": True,
                "description": "A token made with `manage.py scim_token create NAME`, sent as "
                               "Authorization: Bearer <token>.",
            }],
        })
        d.pop("documentationUri")
        return d


def extra_filter_kwargs_getter(model):
    """People a SCIM DELETE removed are gone from SCIM (404), though kept here."""
    deleted_hidden = {"directory__deleted": False} if model is get_user_model() else {}

    def get_extra_filter_kwargs(request, *args, **kwargs):
        return dict(deleted_hidden)

    return get_extra_filter_kwargs
