"""Writes for people and teams."""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from audit.services import COMMAND, SYSTEM, Origin, audit_record
from core.encoding import NotUTF8, utf8_text

from .models import Role, Team, User

CSV_COLUMNS = ["username", "email", "name", "team", "role"]
logger = logging.getLogger(__name__)


def team_get_or_create(*, name: str, origin: Origin = SYSTEM) -> Team:
    """The team of that name, created if need be. Safe when several processes create the
    same new team at once (first sign-ins of a department, a SCIM batch): the unique index
    decides, and whoever loses the insert reads the winner's row."""
    name = name.strip()
    team = Team.objects.filter(name=name).first()
    if team is not None:
        return team
    team = Team(name=name)
    team.full_clean(validate_unique=False)  # the index below is the check that holds under races
    try:
        with transaction.atomic():
            team.save()
    except IntegrityError:
        return Team.objects.get(name=name)
    audit_record(action="team.created", origin=origin, target=team, after={"name": team.name})
    return team


def _access(role: str | None, team_id: int | None) -> dict:
    team = Team.objects.filter(pk=team_id).values_list("name", flat=True).first() if team_id else None
    return {"role": role, "team": team}


def _audit_access(*, user: User, origin: Origin, previous: dict | None) -> None:
    """One entry per change of someone's role or team, whichever door it came through."""
    now = _access(user.role, user.team_id)
    if previous is None:
        audit_record(action="user.created", origin=origin, target=user, after=now)
    elif previous != now:
        changed = [k for k in now if now[k] != previous[k]]
        audit_record(action="user.access_changed", origin=origin, target=user,
                     before={k: previous[k] for k in changed}, after={k: now[k] for k in changed})


def user_access_sync(*, user: User, previous_team_id: int | None) -> None:
    """Make `Team.managers` agree with the user's role and team, in the caller's transaction.

    Someone who is no longer a manager manages no team; a manager who moves leaves the
    team they were in; a manager manages their own team. Access reads both the role and
    Team.managers on every request (core.policy), so the change holds from the next one.
    """
    if user.role != Role.MANAGER:
        user.managed_teams.clear()
        return
    if previous_team_id is not None and previous_team_id != user.team_id:
        user.managed_teams.remove(previous_team_id)
    if user.team_id is not None:
        user.managed_teams.add(user.team_id)


def user_access_changed(
    *, user: User, previous_role: str | None, previous_team_id: int | None, origin: Origin = SYSTEM
) -> None:
    """After an edit elsewhere (the Django admin): a changed role sets the admin flags as
    `people` does (so a demoted admin stops being a superuser), and the managers follow."""
    if previous_role is not None and previous_role != user.role:
        user.is_staff = user.is_superuser = user.role == Role.ADMIN
        user.save(update_fields=["is_staff", "is_superuser"])
    user_access_sync(user=user, previous_team_id=previous_team_id)
    _audit_access(user=user, origin=origin,
                  previous=None if previous_role is None else _access(previous_role, previous_team_id))


@transaction.atomic
def user_create_or_update(
    *,
    username: str,
    email: str = "",
    name: str = "",
    role: str = Role.EMPLOYEE,
    team: Team | None = None,
    password: str | None = None,
    origin: Origin = SYSTEM,
) -> User:
    """Create a user, or update the profile fields of an existing one.

    Admins get Django admin access; team management follows the role and the team
    (user_access_sync), in the same transaction. A new person, or a change of role or
    team, leaves one audit entry saying who made it (`origin`).
    """
    user = User.objects.filter(username=username).first() or User(username=username)
    previous_team_id = user.team_id if user.pk else None
    previous = _access(user.role, user.team_id) if user.pk else None
    user.email = email
    user.name = name
    user.role = role
    user.team = team
    user.is_staff = role == Role.ADMIN
    user.is_superuser = role == Role.ADMIN
    if password is not None:
        user.set_password(password)
    elif not user.pk:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    user_access_sync(user=user, previous_team_id=previous_team_id)
    _audit_access(user=user, origin=origin, previous=previous)
    return user


def team_audit_edit(*, team: Team, managers_before: list[str] | None, origin: Origin) -> None:
    """After the Django admin saved a team and its managers, in its transaction: a new team
    and a changed list of managers leave the same entries as `people team`."""
    after = sorted(team.managers.values_list("username", flat=True))
    if managers_before is None:
        audit_record(action="team.created", origin=origin, target=team, after={"name": team.name})
    if after != (managers_before or []):
        audit_record(action="team.managers_changed", origin=origin, target=team,
                     before={"managers": managers_before or []}, after={"managers": after})


def team_managers_add(*, team: Team, users: list[User], origin: Origin = SYSTEM) -> None:
    """Name more managers of a team; only people with the manager role can be one."""
    wrong = [u.username for u in users if u.role != Role.MANAGER]
    if wrong:
        raise ValidationError(f"not managers (give them the manager role first): {', '.join(wrong)}")
    before = sorted(team.managers.values_list("username", flat=True))
    team.managers.add(*users)
    after = sorted(team.managers.values_list("username", flat=True))
    if after != before:
        audit_record(action="team.managers_changed", origin=origin, target=team,
                     before={"managers": before}, after={"managers": after})


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    teams_created: int = 0
    errors: list[str] = field(default_factory=list)


class ImportError_(ValueError):
    """The file has bad rows; nothing was written. `errors` name the lines."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


def _validate_row(lineno: int, row: dict, seen: dict[str, int]) -> list[str]:
    errors = []
    username = (row.get("username") or "").strip()
    if not username:
        errors.append(f"line {lineno}: username is empty")
    else:
        try:
            User.username_validator(username)
        except ValidationError:
            errors.append(f"line {lineno}: username {username!r} may contain only letters, digits and @/./+/-/_")
        if len(username) > 150:
            errors.append(f"line {lineno}: username is longer than 150 characters")
        if username in seen:
            errors.append(f"line {lineno}: username {username!r} already appears on line {seen[username]}")
        seen.setdefault(username, lineno)
    email = (row.get("email") or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors.append(f"line {lineno}: {email!r} is not a valid email address")
    role = (row.get("role") or "").strip().lower() or Role.EMPLOYEE
    if role not in Role.values:
        errors.append(f"line {lineno}: role {role!r} is not one of {', '.join(Role.values)}")
    team = (row.get("team") or "").strip()
    if role == Role.MANAGER and not team:
        errors.append(f"line {lineno}: a manager needs a team")
    if len(team) > 100:
        errors.append(f"line {lineno}: team name is longer than 100 characters")
    return errors


def people_import_file(*, data: bytes, origin: Origin = COMMAND) -> ImportResult:
    """Import a CSV file as bytes: it must be UTF-8 (a BOM is fine); an encoding error
    names its line like any other, and nothing is written."""
    try:
        text = utf8_text(data)
    except NotUTF8 as exc:
        raise ImportError_([f"line {exc.line}: {exc}"]) from exc
    return people_import_csv(text=text, origin=origin)


def people_import_csv(*, text: str, origin: Origin = COMMAND) -> ImportResult:
    """Import users and teams from CSV (username, email, name, team, role).

    All rows are checked first; if any is bad, nothing is written and every error
    names its line. Existing users are updated, so re-importing is safe.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise ImportError_([f"line 1: missing column(s): {', '.join(missing)} (expected {', '.join(CSV_COLUMNS)})"])
    reader.fieldnames = header

    rows, errors, seen = [], [], {}
    for row in reader:
        lineno = reader.line_num
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue  # blank line
        if None in row:
            errors.append(f"line {lineno}: too many fields")
        errors.extend(_validate_row(lineno, row, seen))
        rows.append(row)
    if not rows and not errors:
        errors.append("the file has no rows")
    if errors:
        raise ImportError_(errors)

    result = ImportResult()
    with transaction.atomic():
        usernames = [r["username"].strip() for r in rows]
        existing = set(User.objects.filter(username__in=usernames).values_list("username", flat=True))
        known_teams = set(Team.objects.values_list("name", flat=True))
        for row in rows:
            team_name = (row.get("team") or "").strip()
            team = None
            if team_name:
                team = team_get_or_create(name=team_name, origin=origin)
                if team_name not in known_teams:
                    known_teams.add(team_name)
                    result.teams_created += 1
            username = row["username"].strip()
            user_create_or_update(
                username=username,
                email=(row.get("email") or "").strip(),
                name=(row.get("name") or "").strip(),
                role=(row.get("role") or "").strip().lower() or Role.EMPLOYEE,
                team=team,
                origin=origin,
            )
            if username in existing:
                result.updated += 1
            else:
                result.created += 1
    return result


# --- leavers: deactivation (a SCIM active:false or DELETE) and deliberate erasure ---------

def _sessions_end(*, user_id: int) -> int:
    """End every session of one person, whichever engine stores it (db, or cached_db,
    whose cached copy must go too: the engine's own delete() removes both)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    store = import_module(settings.SESSION_ENGINE).SessionStore
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user_id):
            store().delete(session.session_key)
            ended += 1
    return ended


def _leave_everything(*, user_id: int) -> None:
    """After a deactivation commits: sessions, fine-tunes, then live generations and
    sockets (over the channel layer). Each step stands alone: a channel layer that is
    down must not keep the fine-tunes running, and the deactivation itself holds anyway
    (the auth backend refuses an inactive user on every request)."""
    from playground.services import runs_stop_for_user
    from training.services import jobs_cancel_for_user

    for step in (_sessions_end, jobs_cancel_for_user, runs_stop_for_user):
        try:
            step(user_id=user_id)
        except Exception:  # noqa: BLE001  (logged; the other steps still run)
            logger.exception("Deactivating user %s: %s failed", user_id, step.__name__)


def user_deactivate(*, user: User, origin: Origin = SYSTEM) -> bool:
    """The person can no longer sign in or act, and everything they had going stops:
    their sessions end, their open playground sockets get an error and close, their live
    generations stop (each run ends STOPPED, or ERROR if its worker is gone), and their
    queued or running fine-tunes are cancelled. Nothing of theirs is deleted: their
    progress, attempts, runs and jobs stay in every report. False if already inactive."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if not locked.is_active:
            return False
        locked.is_active = user.is_active = False
        locked.save(update_fields=["is_active"])
        audit_record(action="user.deactivated", origin=origin, target=locked,
                     before={"active": True}, after={"active": False})
        transaction.on_commit(lambda: _leave_everything(user_id=locked.pk))
    return True


def user_reactivate(*, user: User, origin: Origin = SYSTEM) -> bool:
    """Undo a deactivation (SCIM active:true); False if the person was active."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.is_active:
            return False
        locked.is_active = user.is_active = True
        locked.save(update_fields=["is_active"])
        audit_record(action="user.reactivated", origin=origin, target=locked,
                     before={"active": False}, after={"active": True})
    return True


def user_rename(*, user: User, username: str, origin: Origin = SYSTEM) -> User:
    """A new username (the directory renamed someone); refuses one that is taken."""
    if username == user.username:
        return user
    before = user.username
    user.username = username
    user.full_clean(exclude=["password"])
    with transaction.atomic():
        user.save(update_fields=["username"])
        audit_record(action="user.renamed", origin=origin, target=user,
                     before={"username": before}, after={"username": username})
    return user


def team_rename(*, team: Team, name: str, origin: Origin = SYSTEM) -> Team:
    """A new name for a team (its directory group was renamed); refuses one that is taken."""
    name = name.strip()
    if name == team.name:
        return team
    before = team.name
    team.name = name
    team.full_clean()
    with transaction.atomic():
        team.save(update_fields=["name"])
        audit_record(action="team.renamed", origin=origin, target=team, before={"name": before}, after={"name": name})
    return team


def user_erase(*, user: User, origin: Origin) -> User:
    """Erase a person on purpose (an admin's decision, never the directory's). What names
    or describes them goes; what the company's reports count stays, anonymously:

    - the account stays as "erased-<id>" with no name, email or password, inactive,
      managing nothing, in their team, so their completions, scores and GPU use stay
      in the records, anonymous;
    - deleted: their sessions, their playground runs (free text they typed), their
      uploaded datasets (files and rows), their fine-tuned models' registry entries, and
      their directory link;
    - kept: lesson progress, quiz attempts, certificates (the public page then names
      nobody), fine-tune job rows with their figures, and the audit log, which is
      append-only (its entries keep the labels they were written with until retention
      removes them).

    Records `user.erased` with the person's id only."""
    from playground.models import ModelEntry, PlaygroundRun
    from scim.models import DirectoryUser
    from training.models import Dataset

    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.is_active:
            user_deactivate(user=user, origin=origin)
        PlaygroundRun.objects.filter(user=user).delete()
        for dataset in Dataset.objects.filter(user=user):
            dataset.file.delete(save=False)
            dataset.delete()
        ModelEntry.objects.filter(owner=user).delete()  # only they could use them
        DirectoryUser.objects.filter(user=user).delete()
        user.managed_teams.clear()
        user.username = f"erased-{user.pk}"
        user.email = user.name = user.first_name = user.last_name = ""
        user.is_staff = user.is_superuser = False
        user.set_unusable_password()
        user.save()
        audit_record(action="user.erased", origin=origin, target=("accounts.user", user.pk, user.username))
        transaction.on_commit(lambda: _sessions_end(user_id=user.pk))
    return user
