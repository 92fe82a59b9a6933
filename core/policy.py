"""Who may see or do what: the one access policy of the site.

Every view, HTMX partial, export, JSON endpoint, socket message and task asks these
predicates (or the querysets below, which say the same thing for many rows at once);
nothing else decides visibility. The rules:

- an inactive or anonymous user may do nothing;
- everyone active learns and uses the playground (employee, manager and admin alike);
- a person's data (runs, fine-tunes, progress) is seen by that person, by an admin, and
  by a *current* manager of the person's team: the role must be `manager` and the team
  must be one they manage. Both are read from the database on every request, so a
  demotion or a move takes effect on the next one;
- a model is used by everyone when shared, and only by its owner when it is a fine-tune;
- administering (curation, authoring, the backend, quotas) is for admins.

Refusals: 403 for something that exists and is not yours (runs: their ids are random,
so the answer leaks nothing); 404 where even existence must not leak (fine-tunes,
people, teams, attempts and exports, whose ids are counters).

A decision is a plain boolean, so tests can tabulate it (tests/core/test_policy_matrix.py).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from .roles import Role


# The policy is the base layer and imports no app: people come from the user model
# (AUTH_USER_MODEL, Django's own indirection), teams from its `team` relation, and the
# models a rule filters are passed in by the app that owns them.
def _people() -> QuerySet:
    return get_user_model().objects.all()


def _teams() -> QuerySet:
    return get_user_model()._meta.get_field("team").related_model.objects.all()


def _active(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def may_learn(user) -> bool:
    """Courses, the playground, fine-tunes and one's own progress: every active person."""
    return _active(user)


def may_administer(user) -> bool:
    return _active(user) and user.effective_role == Role.ADMIN


def may_see_dashboards(user) -> bool:
    """The team pages: managers (their teams) and admins (every team)."""
    return _active(user) and user.effective_role in (Role.MANAGER, Role.ADMIN)


def teams_managed_by(user) -> QuerySet:
    """The teams whose people `user` may see: all for an admin, the teams a current
    manager manages, none for anyone else."""
    if may_administer(user):
        return _teams()
    if _active(user) and user.effective_role == Role.MANAGER:
        return _teams().filter(managers=user)
    return _teams().none()


def may_manage_team(user, team_id: int | None) -> bool:
    if team_id is None or not _active(user):
        return False
    if may_administer(user):
        return True
    return teams_managed_by(user).filter(pk=team_id).exists()


def people_visible_to(user) -> QuerySet:
    """Everyone whose data `user` may see (themselves included)."""
    if may_administer(user):
        return _people()
    if not _active(user):
        return _people().none()
    return _people().filter(Q(pk=user.pk) | Q(team__in=teams_managed_by(user)))


def people_on_record_for(user) -> QuerySet:
    """Whose AI-literacy record `user` may read: everyone for an admin, the members of a
    current manager's teams, nobody else. Inactive (deactivated) people stay on the
    record: it is evidence of training that happened."""
    if may_administer(user):
        return _people()
    if _active(user) and user.effective_role == Role.MANAGER:
        return _people().filter(team__in=teams_managed_by(user))
    return _people().none()


def may_view_person(user, person) -> bool:
    if not _active(user) or person is None:
        return False
    return person.pk == user.pk or may_administer(user) or may_manage_team(user, person.team_id)


def may_view_run(user, run) -> bool:
    """A saved playground run: its owner, an admin or a current manager of the owner."""
    return may_view_person(user, run.user)


def may_view_job(user, job) -> bool:
    """A fine-tune (read-only for a manager)."""
    return may_view_person(user, job.user)


def may_cancel_job(user, job) -> bool:
    return job.is_active and _active(user) and (job.user_id == user.pk or may_administer(user))


def models_usable_by(user, models: QuerySet) -> QuerySet:
    """Of `models` (model registry rows), the shared ones plus the user's own fine-tunes,
    enabled ones only."""
    if not _active(user):
        return models.none()
    return models.filter(enabled=True).filter(Q(owner__isnull=True) | Q(owner=user))
