"""Selectors: who may be reported on. Every dashboard read starts from these, scoped
by the viewer through core.policy; anything outside the scope is `core.errors.NotFound`
(a 404 on a page, the same answer as for something that does not exist)."""

from __future__ import annotations

from django.db.models import Count, Q

from accounts.models import Role, Team, User
from core import policy
from core.errors import NotFound
from courseapp.models import Course

from .models import Assignment


def teams_for(*, viewer: User) -> list[Team]:
    """The teams the policy lets the viewer see (every team for admins, their own for
    current managers, none for anyone else), with member counts."""
    return list(policy.teams_managed_by(viewer).annotate(member_count=Count("members", distinct=True)))


def team_get(*, viewer: User, team_id: int) -> Team:
    """A team the viewer may see, or NotFound (the same answer as for a team that doesn't exist)."""
    team = next((t for t in teams_for(viewer=viewer) if t.pk == team_id), None)
    if team is None:
        raise NotFound
    return team


def person_get(*, viewer: User, user_id: int) -> User:
    """A person the viewer may look at (core.policy.may_view_person), or NotFound."""
    person = policy.people_visible_to(viewer).filter(pk=user_id).select_related("team").first()
    if person is None:
        raise NotFound
    return person


def courses_for(*, viewer: User) -> list[Course]:
    """Courses a dashboard may report on, with their published lesson counts."""
    qs = Course.objects.annotate(lesson_count=Count("lessons", filter=Q(lessons__published=True)))
    if viewer.effective_role != Role.ADMIN:
        qs = qs.filter(published=True)
    return list(qs)


def assignable_people(*, viewer: User, teams: list[Team] | None = None):
    """Active members of the viewer's teams (a queryset, for form choices)."""
    teams = teams_for(viewer=viewer) if teams is None else teams
    return (User.objects.filter(team__in=teams, is_active=True)
            .select_related("team").order_by("team__name", "name", "username"))


def assignment_get(*, viewer: User, assignment_id: int) -> Assignment:
    """An assignment to one of the viewer's teams or their members, or NotFound."""
    assignment = Assignment.objects.select_related("team", "user").filter(pk=assignment_id).first()
    team_id = assignment and (assignment.team_id or assignment.user.team_id)
    if team_id not in {t.pk for t in teams_for(viewer=viewer)}:
        raise NotFound
    return assignment
