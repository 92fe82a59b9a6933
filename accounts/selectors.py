"""Reads for people and teams, scoped by who is asking."""

from django.db.models import Count, QuerySet

from .models import Role, Team, User


def teams_visible_to(*, user: User) -> QuerySet[Team]:
    """Admins see every team; managers only the teams they manage."""
    qs = Team.objects.annotate(member_count=Count("members", distinct=True))
    if user.effective_role == Role.ADMIN:
        return qs
    return qs.filter(managers=user)


def team_members(*, team: Team) -> QuerySet[User]:
    return team.members.filter(is_active=True).order_by("name", "username")


def manages_team(*, manager: User, team_id: int | None) -> bool:
    """Whether `manager` is one of the managers of team `team_id` (False for no team)."""
    return team_id is not None and manager.managed_teams.filter(pk=team_id).exists()
