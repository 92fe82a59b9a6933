"""/scim/v2/: django-scim2's views behind our bearer-token door (scim.auth), outside the
site's login (a directory has no session)."""

from django.contrib.auth.decorators import login_not_required
from django_scim import views


def _open(view):
    return login_not_required(view)


users = _open(views.UsersView.as_view())
users_search = _open(views.UserSearchView.as_view())
groups = _open(views.GroupsView.as_view())
groups_search = _open(views.GroupSearchView.as_view())
service_provider_config = _open(views.ServiceProviderConfigView.as_view())
resource_types = _open(views.ResourceTypesView.as_view())
schemas = _open(views.SchemasView.as_view())
not_implemented = _open(views.SCIMView.as_view(implemented=False))  # /, .search, Me, Bulk: 501
