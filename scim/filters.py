"""List filters (`?filter=userName eq "ana"`): scim2-filter-parser turns the filter into
a Django Q over these attribute maps (case-insensitive `eq`, as RFC 7643 says of
userName and displayName); django-scim2 pages the result."""

from django_scim.filters import FilterQuery
from scim2_filter_parser.transpilers.django_q_object import get_query

from .models import DirectoryGroup
from .schemas import ENTERPRISE
from .services import directory_users


class UserFilter(FilterQuery):
    attr_map = {
        ("userName", None, None): "username",
        ("externalId", None, None): "directory__external_id",
        ("id", None, None): "directory__scim_id",
        ("displayName", None, None): "name",
        ("name", "formatted", None): "name",
        ("emails", None, None): "email",
        ("emails", "value", None): "email",
        ("active", None, None): "is_active",
        ("department", None, ENTERPRISE): "team__name",
        ("department", None, None): "team__name",
    }

    @classmethod
    def search(cls, filter_query, request=None):
        return directory_users().filter(get_query(filter_query, cls.attr_map)).order_by("directory__scim_id")


class GroupFilter(FilterQuery):
    attr_map = {
        ("displayName", None, None): "display_name",
        ("externalId", None, None): "external_id",
        ("id", None, None): "scim_id",
    }

    @classmethod
    def search(cls, filter_query, request=None):
        return DirectoryGroup.objects.filter(get_query(filter_query, cls.attr_map)).order_by("scim_id")
