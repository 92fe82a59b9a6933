"""/scim/v2/: django-scim2's views behind our bearer-token door (scim.auth), outside the
site's login (a directory has no session)."""

import json

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django_scim import constants, views

from .auth import BearerTokenCheck


def _open(view):
    return login_not_required(view)


def _error(status: int, detail: str) -> HttpResponse:
    body = {"schemas": [constants.SchemaURI.ERROR], "status": str(status), "detail": detail}
    return HttpResponse(json.dumps(body), status=status, content_type=constants.SCIM_CONTENT_TYPE)


class _Counted:
    """django-scim2 lists ResourceTypes and Schemas without totalResults, which RFC 7644
    §3.4.2 requires of every ListResponse."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        if response.status_code == 404:
            return _error(404, f"{request.path} does not exist")
        if response.status_code != 200:
            return response
        doc = json.loads(response.content)
        if doc.get("schemas") == [constants.SchemaURI.LIST_RESPONSE]:
            n = len(doc["Resources"])
            doc.update({"totalResults": n, "itemsPerPage": n, "startIndex": 1})
            response.content = json.dumps(doc)
        return response


class ResourceTypesView(_Counted, views.ResourceTypesView):
    pass


class SchemasView(_Counted, views.SchemasView):
    pass


users = _open(views.UsersView.as_view())
users_search = _open(views.UserSearchView.as_view())
groups = _open(views.GroupsView.as_view())
groups_search = _open(views.GroupSearchView.as_view())
service_provider_config = _open(views.ServiceProviderConfigView.as_view())
resource_types = _open(ResourceTypesView.as_view())
schemas = _open(SchemasView.as_view())


@login_not_required
@csrf_exempt
@BearerTokenCheck
def not_implemented(request, *args, **kwargs):
    """/, /.search (several resource types at once), /Me and /Bulk."""
    return _error(501, f"{request.path} is not implemented here")


@login_not_required
@csrf_exempt
@BearerTokenCheck
def not_found(request, *args, **kwargs):
    return _error(404, f"{request.path} does not exist")
