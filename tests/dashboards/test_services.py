import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.models import Role
from dashboards.models import Assignment
from dashboards.services import assignment_create, assignment_delete
from tests.dashboards.factories import make_course, make_team, make_user, team_with

pytestmark = pytest.mark.django_db
DUE = dt.date(2030, 1, 31)


def test_manager_assigns_to_own_team_and_reassigning_moves_the_due_date(course):
    team, manager, _ = team_with(2)
    first = assignment_create(assigned_by=manager, course=course, due_date=DUE, team=team)
    again = assignment_create(assigned_by=manager, course=course, due_date=DUE + dt.timedelta(days=7), team=team)
    assert first.pk == again.pk
    assert Assignment.objects.get().due_date == dt.date(2030, 2, 7)


def test_manager_assigns_to_one_of_their_employees(course):
    team, manager, people = team_with(1)
    a = assignment_create(assigned_by=manager, course=course, due_date=DUE, user=people[0])
    assert a.user == people[0] and a.team is None and a.assigned_by == manager


def test_manager_cannot_assign_outside_their_teams(course):
    _team, manager, _ = team_with(1)
    other, _, strangers = team_with(1)
    with pytest.raises(PermissionDenied):
        assignment_create(assigned_by=manager, course=course, due_date=DUE, team=other)
    with pytest.raises(PermissionDenied):
        assignment_create(assigned_by=manager, course=course, due_date=DUE, user=strangers[0])
    assert not Assignment.objects.exists()


def test_employee_cannot_assign_and_admin_can_assign_anywhere(course):
    team, _, people = team_with(1)
    with pytest.raises(PermissionDenied):
        assignment_create(assigned_by=people[0], course=course, due_date=DUE, team=team)
    admin = make_user(Role.ADMIN)
    assert assignment_create(assigned_by=admin, course=course, due_date=DUE, team=make_team()).pk


def test_exactly_one_target_and_a_published_course():
    team, manager, people = team_with(1)
    with pytest.raises(ValidationError):
        assignment_create(assigned_by=manager, course=make_course(), due_date=DUE, team=team, user=people[0])
    with pytest.raises(ValidationError):
        assignment_create(assigned_by=manager, course=make_course(), due_date=DUE)
    with pytest.raises(ValidationError):
        assignment_create(assigned_by=manager, course=make_course(published=False), due_date=DUE, team=team)


def test_delete_is_scoped(course):
    team, manager, _ = team_with(1)
    _other, other_manager, _ = team_with(1)
    a = assignment_create(assigned_by=manager, course=course, due_date=DUE, team=team)
    with pytest.raises(PermissionDenied):
        assignment_delete(deleted_by=other_manager, assignment=a)
    assignment_delete(deleted_by=manager, assignment=a)
    assert not Assignment.objects.exists()
