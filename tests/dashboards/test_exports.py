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
