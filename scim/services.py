"""Directory writes: a SCIM create, replace, patch or delete becomes calls of
`accounts.services`, which record the audit entries (the Origin names the token).

Mapping (docs/DECISIONS.md, "Directory sync"):
- a user's enterprise `department` is their team (created if need be);
- each other SCIM Group is a team: its members are that team's people, and adding
  someone moves them there (a person is in one team);
- the group named SCIM_MANAGER_GROUP is the manager role: its members are managers,
  and removing someone makes them an employee. Admins are never changed by groups, and
  an existing admin account is never adopted by the directory (it stays local).
- active:false, and DELETE, deactivate (accounts.services.user_deactivate); never erase.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from accounts.models import Role, Team, User
from accounts.services import (
    team_get_or_create,
    team_rename,
    user_create_or_update,
    user_deactivate,
    user_reactivate,
    user_rename,
)
from audit.services import Origin

from .models import DirectoryGroup, DirectoryUser, new_scim_id

_KEEP = object()


class Conflict(Exception):
    """A uniqueness clash (SCIM 409)."""


class Invalid(Exception):
    """A value the Academy cannot take (SCIM 400 invalidValue)."""


def _messages(exc: ValidationError) -> str:
    return "; ".join(exc.messages)


def _access_set(*, user: User, origin: Origin, role: str | None = None, team=_KEEP) -> User:
    """Change someone's role or team only, keeping the rest of their profile."""
    return user_create_or_update(username=user.username, email=user.email, name=user.name,
                                 role=role or user.role, team=user.team if team is _KEEP else team, origin=origin)


# --- users -----------------------------------------------------------------------------

def directory_users() -> QuerySet:
    return User.objects.filter(directory__deleted=False).select_related("directory", "team")


def _adopt_or_rename(*, user: User | None, username: str, origin: Origin) -> User | None:
    """For a create: the existing account the userName names, if the directory may take
    it. For a replace: the person, renamed if the userName changed."""
    if user is None:
        existing = User.objects.filter(username=username).first()
        if existing is None:
            return None
        link = DirectoryUser.objects.filter(user=existing).first()
        if link is not None and not link.deleted:
            raise Conflict(f"userName {username!r} is already taken")
        if existing.effective_role == Role.ADMIN:
            raise Conflict(f"{username!r} is a local admin account; the directory does not manage it")
        return existing  # a local account (people, CSV) or one deleted earlier: adopted
    if username != user.username:
        if User.objects.filter(username=username).exclude(pk=user.pk).exists():
            raise Conflict(f"userName {username!r} is already taken")
        try:
            user_rename(user=user, username=username, origin=origin)
        except ValidationError as exc:
            raise Invalid(_messages(exc)) from exc
    return user


def _team_for(*, user: User | None, fields: dict, origin: Origin) -> Team | None:
    """The department's team (created if need be, race-safe); without one, unchanged."""
    if fields.get("department") is None:
        return user.team if user is not None else None
    department = fields["department"].strip()
    try:
        return team_get_or_create(name=department, origin=origin) if department else None
    except ValidationError as exc:
        raise Invalid(_messages(exc)) from exc


def _profile_save(*, user: User | None, fields: dict, team: Team | None, origin: Origin) -> User:
    username = fields["userName"]
    try:
        return user_create_or_update(username=username, email=fields.get("email") or "",
                                     name=fields.get("displayName") or "",
                                     role=user.role if user is not None else Role.EMPLOYEE, team=team, origin=origin)
    except ValidationError as exc:
        if any(e.code == "unique" for e in getattr(exc, "error_dict", {}).get("username", [])):
            raise Conflict(f"userName {username!r} is already taken") from exc
        raise Invalid(_messages(exc)) from exc
    except IntegrityError as exc:  # two creates of one userName at once: the index decides
        raise Conflict(f"userName {username!r} is already taken") from exc


@transaction.atomic
def directory_user_save(*, user: User | None, fields: dict, origin: Origin) -> User:
    """Create (user None) or replace a person from a SCIM User's fields: userName,
    displayName, email, externalId, and where given, department and active."""
    user = _adopt_or_rename(user=user, username=fields["userName"], origin=origin)
    team = _team_for(user=user, fields=fields, origin=origin)
    saved = _profile_save(user=user, fields=fields, team=team, origin=origin)
    link, created = DirectoryUser.objects.get_or_create(user=saved)
    if link.deleted:
        link.deleted, link.scim_id, created = False, new_scim_id(), True
    link.external_id = fields.get("externalId") or ""
    link.save()
    active = True if fields.get("active") is None and created else fields.get("active")
    if active is False:
        user_deactivate(user=saved, origin=origin)
    elif active is True:
        user_reactivate(user=saved, origin=origin)
    saved.refresh_from_db()
    return saved


@transaction.atomic
def directory_user_delete(*, user: User, origin: Origin) -> None:
    """SCIM DELETE: deactivated (never erased), and gone from SCIM (its id answers 404)."""
    user_deactivate(user=user, origin=origin)
    DirectoryUser.objects.filter(user=user).update(deleted=True)


# --- groups ----------------------------------------------------------------------------

def is_manager_group(name: str) -> bool:
    return name.strip().casefold() == settings.SCIM_MANAGER_GROUP.strip().casefold()


def group_members(group: DirectoryGroup) -> QuerySet:
    if is_manager_group(group.display_name):
        return directory_users().filter(role=Role.MANAGER)
    if group.team_id is None:
        return User.objects.none()
    return directory_users().filter(team_id=group.team_id)


def groups_of(user: User) -> list[DirectoryGroup]:
    groups = list(DirectoryGroup.objects.filter(team_id=user.team_id)) if user.team_id else []
    if user.role == Role.MANAGER:
        groups += [g for g in DirectoryGroup.objects.filter(team__isnull=True) if is_manager_group(g.display_name)]
    return groups


def _member_add(group: DirectoryGroup, user: User, origin: Origin) -> None:
    if user.effective_role == Role.ADMIN:
        return
    if is_manager_group(group.display_name):
        _access_set(user=user, role=Role.MANAGER, origin=origin)
    elif group.team_id is not None:
        _access_set(user=user, team=group.team, origin=origin)


def _member_remove(group: DirectoryGroup, user: User, origin: Origin) -> None:
    if user.effective_role == Role.ADMIN:
        return
    if is_manager_group(group.display_name):
        if user.role == Role.MANAGER:
            _access_set(user=user, role=Role.EMPLOYEE, origin=origin)
    elif group.team_id is not None and user.team_id == group.team_id:
        _access_set(user=user, team=None, origin=origin)


def members_resolve(ids: list[str]) -> list[User]:
    """Users for SCIM ids; an unknown id is an error (nothing is changed)."""
    users = list(directory_users().filter(directory__scim_id__in=ids))
    missing = set(ids) - {u.directory.scim_id for u in users}
    if missing:
        raise Invalid(f"no such user: {', '.join(sorted(missing))}")
    return users


@transaction.atomic
def group_members_change(*, group: DirectoryGroup, add: list[User] = (), remove: list[User] = (),
                         origin: Origin) -> None:
    for user in remove:
        _member_remove(group, User.objects.get(pk=user.pk), origin)
    for user in add:
        _member_add(group, User.objects.get(pk=user.pk), origin)


@transaction.atomic
def directory_group_save(*, group: DirectoryGroup | None, fields: dict, origin: Origin) -> DirectoryGroup:
    """Create or replace a group: displayName, externalId and, where given, its members
    (a list of users: exactly these are then its members)."""
    name = (fields.get("displayName") or "").strip()
    if not name:
        raise Invalid("displayName is required")
    if DirectoryGroup.objects.filter(display_name__iexact=name).exclude(pk=getattr(group, "pk", None)).exists():
        raise Conflict(f"a group named {name!r} exists")
    if group is None:
        group = DirectoryGroup(display_name=name)
        if not is_manager_group(name):
            try:
                group.team = team_get_or_create(name=name, origin=origin)
            except ValidationError as exc:
                raise Invalid(_messages(exc)) from exc
            if DirectoryGroup.objects.filter(team=group.team).exists():
                raise Conflict(f"the team {name!r} already has a group")
    elif name != group.display_name:
        if is_manager_group(name) != is_manager_group(group.display_name):
            raise Invalid("a team's group cannot become the manager group, nor the other way round")
        if group.team_id is not None:
            try:
                team_rename(team=Team.objects.get(pk=group.team_id), name=name, origin=origin)
            except ValidationError as exc:
                raise Conflict(_messages(exc)) from exc
    group.display_name = name
    group.external_id = fields.get("externalId") or ""
    try:
        with transaction.atomic():
            group.save()
    except IntegrityError as exc:
        raise Conflict(f"a group named {name!r} exists") from exc
    if fields.get("members") is not None:
        wanted = {u.pk: u for u in fields["members"]}
        current = {u.pk: u for u in group_members(group)}
        group_members_change(group=group, add=[u for pk, u in wanted.items() if pk not in current],
                             remove=[u for pk, u in current.items() if pk not in wanted], origin=origin)
    return group


def directory_group_delete(*, group: DirectoryGroup, origin: Origin) -> None:
    """The directory no longer pushes the group; the team and everyone's access stay
    (a deleted group is not a reorganisation: people move when their groups say so)."""
    group.delete()
