"""Reads for people and teams (who may see them is core.policy's business)."""

from django.db.models import QuerySet

from .models import Team, User


def team_members(*, team: Team) -> QuerySet[User]:
    return team.members.filter(is_active=True).order_by("name", "username")

