"""Export reads refuse with a domain error (they run in Celery too, where a 404 means nothing)."""

import datetime as dt

import pytest

from accounts.models import Role
from core.errors import NotFound
from dashboards import exports, scope
from dashboards.models import ExportJob, ExportStatus
from dashboards.services import assignment_create
from tests.dashboards.factories import make_user, team_with

pytestmark = pytest.mark.django_db


def test_an_export_is_its_requesters_and_downloads_only_when_done():
    _team, manager, _people = team_with(1)
    other = make_user(Role.MANAGER)
    job = ExportJob.objects.create(requested_by=manager, kind="matrix", params={})
    assert exports.export_job_get(viewer=manager, job_id=job.pk) == job
    with pytest.raises(NotFound):
        exports.export_job_get(viewer=other, job_id=job.pk)
    with pytest.raises(NotFound):
        exports.export_download_get(viewer=manager, job_id=job.pk)  # not written yet
    ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.DONE, file_path="exports/x.csv")
    assert exports.export_download_get(viewer=manager, job_id=job.pk) == job
    with pytest.raises(NotFound):
        exports.export_download_get(viewer=other, job_id=job.pk)


def test_an_assignment_is_found_only_within_the_viewers_teams(course):
    team, manager, (person,) = team_with(1)
    _other_team, other_manager, _ = team_with(1)
    for kwargs in ({"team": team}, {"user": person}):
        assignment = assignment_create(assigned_by=manager, course=course, due_date=dt.date(2030, 1, 1), **kwargs)
        assert scope.assignment_get(viewer=manager, assignment_id=assignment.pk) == assignment
        with pytest.raises(NotFound):
            scope.assignment_get(viewer=other_manager, assignment_id=assignment.pk)
    with pytest.raises(NotFound):
        scope.assignment_get(viewer=manager, assignment_id=10**9)


def test_a_leavers_attempts_stay_in_the_attempts_export(course):
    """Deactivated people (leavers, never erased) keep their history in the attempts
    export; the matrix lists the team as it is now."""
    from courseapp.models import Lesson
    from dashboards.filters import Filters
    from tests.dashboards.factories import attempt

    team, manager, (stays, leaves) = team_with(2)
    quiz = Lesson.objects.filter(course=course).first().quiz
    attempt(stays, quiz, score=80)
    attempt(leaves, quiz, score=90)
    leaves.is_active = False
    leaves.save(update_fields=["is_active"])
    filters = Filters(courses=tuple(scope.courses_for(viewer=manager)))
    rows = list(exports.export_rows(viewer=manager, kind="attempts", team_ids=None, filters=filters))
    assert {r[1] for r in rows[1:]} == {stays.username, leaves.username}
    assert exports.export_row_count(viewer=manager, kind="attempts", team_ids=None, filters=filters) == 2
    matrix = list(exports.export_rows(viewer=manager, kind="matrix", team_ids=None, filters=filters))
    assert leaves.username not in {r[1] for r in matrix[1:]}
