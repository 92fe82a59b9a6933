"""django-scim2's adapters for our people and groups: they turn SCIM bodies into the
fields scim.services takes, render our rows as SCIM resources, and apply PATCH
operations in the shapes Okta and Entra ID send (a path, or none with a dict of
attributes; "Replace" capitalised; Entra's "True"/"False" strings for active;
`members[value eq "…"]` filters)."""

from __future__ import annotations

import re
from urllib.parse import urljoin

from django.urls import reverse
from django_scim import exceptions
from django_scim.adapters import SCIMGroup, SCIMUser

from .auth import base_location
from .schemas import ENTERPRISE, GROUP, USER
from .services import (
    Conflict,
    Invalid,
    directory_group_delete,
    directory_group_save,
    directory_user_delete,
    directory_user_save,
    group_members,
    group_members_change,
    groups_of,
    members_resolve,
)


def _errors(fn):
    """Our refusals as SCIM errors (RFC 7644 §3.12)."""
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Conflict as exc:
            raise exceptions.IntegrityError(str(exc), scim_type="uniqueness") from exc
        except Invalid as exc:
            raise exceptions.BadRequestError(str(exc), scim_type="invalidValue") from exc
    return wrapped


def _bool(value, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):  # Entra ID sends strings
        return value.lower() == "true"
    raise exceptions.BadRequestError(f"{name} must be true or false", scim_type="invalidValue")


def _str(value, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise exceptions.BadRequestError(f"{name} must be a string", scim_type="invalidValue")
    return value.strip()


def _email(value) -> str:
    """The primary (else the first) address of a SCIM emails list; a dict is taken as one."""
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise exceptions.BadRequestError("emails must be a list", scim_type="invalidValue")
    chosen = sorted((e for e in value if isinstance(e, dict)), key=lambda e: not e.get("primary"))
    return _str(chosen[0].get("value"), "emails.value") if chosen else ""


def _path(path: str) -> str:
    """A PATCH path without its schema URN, in lower case (attribute names are not case
    sensitive): "urn:…:enterprise:2.0:User:department" → "department"."""
    for urn in (ENTERPRISE, USER, GROUP):
        if path.lower().startswith(urn.lower() + ":"):
            return path[len(urn) + 1:].lower()
    return path.lower()


def _operations(operations) -> list[tuple[str, str, object]]:
    """(op, path, value) for each operation; a path-less add or replace of a dict gives
    one per attribute (Okta and Entra ID both send these)."""
    if not isinstance(operations, list):
        raise exceptions.BadRequestError("Operations must be a list", scim_type="invalidSyntax")
    out = []
    for operation in operations:
        op = str(operation.get("op", "")).lower() if isinstance(operation, dict) else ""
        if op not in ("add", "remove", "replace"):
            raise exceptions.BadRequestError(f"unknown PATCH op {op!r}", scim_type="invalidSyntax")
        path, value = operation.get("path"), operation.get("value")
        if path:
            out.append((op, _path(str(path)), value))
        elif op == "remove":
            raise exceptions.BadRequestError("remove needs a path", scim_type="noTarget")
        elif isinstance(value, dict):
            for key, item in value.items():
                if key.lower() == ENTERPRISE.lower() and isinstance(item, dict):
                    out += [(op, k.lower(), v) for k, v in item.items()]
                else:
                    out.append((op, _path(key), item))
        else:
            raise exceptions.BadRequestError("a PATCH without a path needs an object value",
                                             scim_type="invalidValue")
    return out


def _ref(request, url_name: str, scim_id: str) -> str:
    """The absolute URI of a resource, for `$ref`."""
    return urljoin(base_location(request), reverse(url_name, kwargs={"uuid": scim_id}))


ALWAYS = {"id", "schemas"}  # returned: always (RFC 7643 §7)


def _project(d: dict, request) -> dict:
    """Honour `attributes` and `excludedAttributes` (RFC 7644 §3.9): top-level names,
    dotted sub-attributes ("name.formatted") and the enterprise extension by its URN."""
    def names(param):
        raw = request.GET.get(param) if request is not None else None
        return [n.strip() for n in raw.split(",") if n.strip()] if raw else []

    def split(name):
        name = name.lower()
        if name.startswith(ENTERPRISE.lower()):
            rest = name[len(ENTERPRISE):].lstrip(":")
            return ENTERPRISE.lower(), rest or None
        for urn in (USER, GROUP):
            if name.startswith(urn.lower() + ":"):
                name = name[len(urn) + 1:]
        top, _, sub = name.partition(".")
        return top, sub or None

    keys = {k.lower(): k for k in d}
    included, excluded = names("attributes"), names("excludedAttributes")
    if included:
        out = {k: v for k, v in d.items() if k in ALWAYS}
        for top, sub in map(split, included):
            key = keys.get(top)
            if key is None:
                continue
            value = d[key]
            if sub and isinstance(value, dict):
                picked = {k: v for k, v in value.items() if k.lower() == sub}
                out[key] = {**out.get(key, {}), **picked}
            else:
                out[key] = value
        return out
    out = dict(d)
    for top, sub in map(split, excluded):
        key = keys.get(top)
        if key is None or key in ALWAYS:
            continue
        if sub and isinstance(out[key], dict):
            out[key] = {k: v for k, v in out[key].items() if k.lower() != sub}
        else:
            out.pop(key)
    return out


class UserAdapter(SCIMUser):
    id_field = "directory__scim_id"

    @property
    def id(self):
        return self.obj.directory.scim_id

    def to_dict(self):
        user, link = self.obj, self.obj.directory
        d = {
            "schemas": [USER, ENTERPRISE] if user.team_id else [USER],
            "id": link.scim_id,
            "userName": user.username,
            "active": user.is_active,
            "meta": {"resourceType": "User", "created": user.date_joined.isoformat(),
                     "lastModified": user.date_joined.isoformat(), "location": self.location},
        }
        # An attribute without a value is left out (RFC 7643 §2.5), so that a removed one is gone.
        if user.name:
            d.update({"name": {"formatted": user.name}, "displayName": user.name})
        if user.email:
            d["emails"] = [{"value": user.email, "type": "work"}]
        groups = [{"value": g.scim_id, "display": g.display_name,
                   "$ref": _ref(self.request, "scim:groups", g.scim_id)}
                  for g in groups_of(user)]
        if groups:
            d["groups"] = groups
        if user.team_id:
            d[ENTERPRISE] = {"department": user.team.name}
        if link.external_id:
            d["externalId"] = link.external_id
        return _project(d, self._request)

    @classmethod
    def resource_type_dict(cls, request=None):
        d = super().resource_type_dict(request)
        d["endpoint"] = "/Users"  # relative to the base URL (RFC 7643 §6), not the site's root
        d["schemaExtensions"] = [{"schema": ENTERPRISE, "required": False}]
        return d

    def validate_dict(self, d):
        if not isinstance(d.get("userName"), str) or not d["userName"].strip():
            raise exceptions.BadRequestError("userName is required", scim_type="invalidValue")

    def _fields(self) -> dict:
        user = self.obj
        if not user.pk:
            return {}
        return {"userName": user.username, "displayName": user.name, "email": user.email,
                "externalId": user.directory.external_id, "active": user.is_active}

    def from_dict(self, d):
        name = d.get("name") if isinstance(d.get("name"), dict) else {}
        display = d.get("displayName") or name.get("formatted") or " ".join(
            p for p in (name.get("givenName"), name.get("familyName")) if isinstance(p, str) and p)
        self.fields = {
            "userName": _str(d.get("userName"), "userName"),
            "displayName": _str(display, "displayName"),
            "email": _email(d.get("emails") or []),
            "externalId": _str(d.get("externalId"), "externalId"),
            "active": _bool(d["active"], "active") if d.get("active") is not None else None,
        }
        extension = d.get(ENTERPRISE)
        if isinstance(extension, dict) and "department" in extension:
            self.fields["department"] = _str(extension["department"], "department")

    @_errors
    def save(self):
        origin = self.request.scim_origin
        self.obj = directory_user_save(user=self.obj if self.obj.pk else None, fields=self.fields, origin=origin)

    @_errors
    def delete(self):
        directory_user_delete(user=self.obj, origin=self.request.scim_origin)

    def handle_operations(self, operations):
        fields = self._fields()
        fields["active"] = None  # unchanged unless an operation says so
        names: dict[str, str] = {}
        for op, path, value in _operations(operations):
            _user_patch(fields, names, op, path, None if op == "remove" else value)
        if (names.get("given") or names.get("family")) and not fields.get("displayName"):
            fields["displayName"] = " ".join(p for p in (names.get("given"), names.get("family")) if p)
        self.fields = fields
        self.save()


def _user_patch(fields: dict, names: dict, op: str, path: str, value) -> None:
    """One PATCH operation on a user's fields. An attribute the Academy does not keep
    is accepted and dropped (directories send titles, phones, addresses...)."""
    if path == "username":
        if not value:
            raise exceptions.BadRequestError("userName is required", scim_type="invalidValue")
        fields["userName"] = _str(value, "userName")
    elif path in ("displayname", "name.formatted"):
        fields["displayName"] = _str(value, path)
    elif path == "name":
        value = value if isinstance(value, dict) else {}
        fields["displayName"] = _str(value.get("formatted") or " ".join(
            p for p in (value.get("givenName"), value.get("familyName")) if p), "name")
    elif path in ("name.givenname", "name.familyname"):
        names["given" if path.endswith("givenname") else "family"] = _str(value, path)
    elif path == "emails":
        fields["email"] = _email(value or [])
    elif re.fullmatch(r"emails\[.*\]\.value", path):
        fields["email"] = _str(value, "emails.value")
    elif path == "externalid":
        fields["externalId"] = _str(value, "externalId")
    elif path == "active":
        fields["active"] = _bool(value, "active") if value is not None else False
    elif path == "department":
        fields["department"] = _str(value, "department")
    elif path == ENTERPRISE.lower():
        if op == "remove":
            fields["department"] = ""
        elif isinstance(value, dict) and "department" in value:
            fields["department"] = _str(value["department"], "department")


class GroupAdapter(SCIMGroup):
    id_field = "scim_id"

    @property
    def display_name(self):
        return self.obj.display_name

    def to_dict(self):
        group = self.obj
        d = {
            "schemas": [GROUP],
            "id": group.scim_id,
            "displayName": group.display_name,
            "members": [{"value": u.directory.scim_id,
                         "$ref": _ref(self.request, "scim:users", u.directory.scim_id)}
                        for u in group_members(group)] if group.pk else [],
            "meta": {"resourceType": "Group", "created": group.created_at.isoformat() if group.pk else None,
                     "lastModified": group.created_at.isoformat() if group.pk else None, "location": self.location},
        }
        if not d["members"]:
            d.pop("members")
        if group.external_id:
            d["externalId"] = group.external_id
        return _project(d, self._request)

    @classmethod
    def resource_type_dict(cls, request=None):
        return {**super().resource_type_dict(request), "endpoint": "/Groups"}

    def validate_dict(self, d):
        if not isinstance(d.get("displayName"), str) or not d["displayName"].strip():
            raise exceptions.BadRequestError("displayName is required", scim_type="invalidValue")

    @staticmethod
    def _member_ids(value) -> list[str]:
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(m, dict) and m.get("value") for m in value):
            raise exceptions.BadRequestError("members must be a list of {value: id}", scim_type="invalidValue")
        return [str(m["value"]) for m in value]

    @_errors
    def from_dict(self, d):
        self.fields = {"displayName": _str(d.get("displayName"), "displayName"),
                       "externalId": _str(d.get("externalId"), "externalId"),
                       "members": members_resolve(self._member_ids(d.get("members") or []))}

    @_errors
    def save(self):
        self.obj = directory_group_save(group=self.obj if self.obj.pk else None, fields=self.fields,
                                        origin=self.request.scim_origin)

    @_errors
    def delete(self):
        directory_group_delete(group=self.obj, origin=self.request.scim_origin)

    @_errors
    def handle_operations(self, operations):
        origin = self.request.scim_origin
        fields = {"displayName": self.obj.display_name, "externalId": self.obj.external_id}
        add, remove, replace = [], [], None
        for op, path, value in _operations(operations):
            one = re.fullmatch(r'members\[value eq "([^"]+)"\]', path or "")
            if path == "members":
                if op == "add":
                    add += self._member_ids(value)
                elif op == "remove":
                    if value is None:
                        replace = []
                    else:
                        remove += self._member_ids(value)
                else:
                    replace = self._member_ids(value or [])
            elif one and op == "remove":
                remove.append(one.group(1))
            elif path == "displayname" and op != "remove":
                fields["displayName"] = _str(value, "displayName")
            elif path == "externalid":
                fields["externalId"] = _str(value, "externalId") if op != "remove" else ""
            elif path in ("id", "schemas", "meta"):
                continue  # Okta's path-less replace repeats the id
            else:
                raise exceptions.BadRequestError(f"cannot {op} {path!r} on a group", scim_type="invalidPath")
        if replace is not None:
            fields["members"] = members_resolve(replace)
        self.obj = directory_group_save(group=self.obj, fields=fields, origin=origin)
        group_members_change(group=self.obj, add=members_resolve(add), remove=members_resolve(remove), origin=origin)
