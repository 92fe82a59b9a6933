from django.urls import path, re_path

from . import views

app_name = "scim"  # django-scim2 reverses "scim:users" and the like

urlpatterns = [
    path("", views.not_implemented, name="root"),
    path("Users/.search", views.users_search, name="users-search"),
    re_path(r"^Users(?:/(?P<uuid>[^/]+))?$", views.users, name="users"),
    path("Groups/.search", views.groups_search, name="groups-search"),
    re_path(r"^Groups(?:/(?P<uuid>[^/]+))?$", views.groups, name="groups"),
    path("ServiceProviderConfig", views.service_provider_config, name="service-provider-config"),
    re_path(r"^ResourceTypes(?:/(?P<uuid>[^/]+))?$", views.resource_types, name="resource-types"),
    re_path(r"^Schemas(?:/(?P<uuid>[^/]+))?$", views.schemas, name="schemas"),
    path("Me", views.not_implemented, name="me"),
    path("Bulk", views.not_implemented, name="bulk"),
    path(".search", views.not_implemented, name="search"),
    re_path(r"^.+$", views.not_found, name="not-found"),  # a SCIM error, not the site's page
]
