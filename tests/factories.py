"""Factories for test data; they go through the services, as real code does."""

import itertools

from accounts.models import Role, Team, User
from accounts.services import team_get_or_create, user_create_or_update

_seq = itertools.count(1)
PASSWORD = "correct-horse-battery"


def make_team(name: str | None = None) -> Team:
    return team_get_or_create(name=name or f"Team {next(_seq)}")


def make_user(role: str = Role.EMPLOYEE, *, team: Team | None = None, username: str | None = None) -> User:
    n = next(_seq)
    return user_create_or_update(
        username=username or f"{role}{n}",
        email=f"{role}{n}@example.com",
        name=f"{role.title()} {n}",
        role=role,
        team=team,
        password=PASSWORD,
    )
