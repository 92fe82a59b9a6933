"""Scope: a manager sees only their own teams through every URL, filter, export and
HTMX partial; an employee sees only themselves; an admin sees everything."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from accounts.models import Role
from courseapp.models import Lesson
from dashboards.models import Assignment, ExportJob, ExportStatus
from tests.dashboards.factories import assign, attempt, make_course, make_user, progress, run, team_with

pytestmark = pytest.mark.django_db
DUE = dt.date(2030, 1, 1)


@pytest.fixture
def world(course):
    mine, manager, (ann,) = team_with(1, name="Mine")
    theirs, other_manager, (zed,) = team_with(1, name="Theirs")
    lesson = Lesson.objects.filter(course=course).first()
    for person in (ann, zed):
        progress(person, lesson)
        attempt(person, lesson.quiz, score=60)
        run(person)
    foreign = assign(other_manager, course, DUE, team=theirs)
    return {"mine": mine, "manager": manager, "ann": ann, "theirs": theirs, "zed": zed,
            "other_manager": other_manager, "foreign_assignment": foreign, "course": course}


def csv_rows(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode() if response.streaming else response.content.decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_manager_pages_show_only_their_team(client, world):
    client.force_login(world["manager"])
    pages = {reverse("dashboards:overview"): "Mine", reverse("dashboards:team", args=[world["mine"].pk]): "Mine",
             reverse("dashboards:team_matrix", args=[world["mine"].pk]): world["ann"].display_name,
             reverse("dashboards:assign"): world["ann"].display_name}
    for url, expected in pages.items():
        html = client.get(url, HTTP_HX_REQUEST="true").content.decode()
        assert expected in html, url
        assert world["zed"].username not in html and world["zed"].display_name not in html, url
        assert "Theirs" not in html, url


@pytest.mark.parametrize("name", ["dashboards:team", "dashboards:team_matrix"])
def test_another_team_is_not_found(client, world, name):
    client.force_login(world["manager"])
    assert client.get(reverse(name, args=[world["theirs"].pk]), HTTP_HX_REQUEST="true").status_code == 404


def test_filters_cannot_reach_another_team_or_a_hidden_course(client, world):
    client.force_login(world["manager"])
    assert client.get(reverse("dashboards:overview"), {"team": world["theirs"].pk}).status_code == 404
    draft = make_course(published=False)
    team_url = reverse("dashboards:team", args=[world["mine"].pk])
    assert client.get(team_url, {"course": draft.pk}).status_code == 404
    own = client.get(reverse("dashboards:overview"), {"team": world["mine"].pk})
    assert own.status_code == 302 and own["Location"].startswith(team_url)


def test_drill_down_only_into_own_people(client, world):
    client.force_login(world["manager"])
    assert client.get(reverse("dashboards:person", args=[world["zed"].pk])).status_code == 404
    html = client.get(reverse("dashboards:person", args=[world["ann"].pk])).content.decode()
    assert world["ann"].display_name in html and "60%" in html


def test_exports_are_scoped(client, world, settings):
    client.force_login(world["manager"])
    assert client.post(reverse("dashboards:export"), {"kind": "matrix", "team": world["theirs"].pk}).status_code == 404
    for kind in ("matrix", "attempts"):
        rows = csv_rows(client.post(reverse("dashboards:export"), {"kind": kind}))
        assert rows and {r["team"] for r in rows} == {"Mine"}
        assert world["zed"].username not in {r["username"] for r in rows}


def test_export_jobs_belong_to_their_requester(client, world):
    job = ExportJob.objects.create(requested_by=world["other_manager"], kind="matrix", status=ExportStatus.DONE,
                                   file_path=__file__)
    client.force_login(world["manager"])
    for name in ("dashboards:export", "dashboards:export_status", "dashboards:export_download"):
        assert client.get(reverse(name, args=[job.pk])).status_code == 404, name


def test_assignments_of_another_team_cannot_be_made_or_removed(client, world):
    client.force_login(world["manager"])
    response = client.post(reverse("dashboards:assign"), {"course": world["course"].pk, "team": world["theirs"].pk,
                                                          "due_date": "2030-02-01"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    response = client.post(reverse("dashboards:assign"), {"course": world["course"].pk, "person": world["zed"].pk,
                                                          "due_date": "2030-02-01"})
    assert response.status_code == 200
    delete = reverse("dashboards:assignment_delete", args=[world["foreign_assignment"].pk])
    assert client.post(delete).status_code == 404
    assert Assignment.objects.count() == 1


def test_manager_assigns_through_the_form(client, world):
    client.force_login(world["manager"])
    response = client.post(reverse("dashboards:assign"), {"course": world["course"].pk, "team": world["mine"].pk,
                                                          "due_date": "2030-02-01"})
    assert response.status_code == 302
    assert Assignment.objects.get(team=world["mine"]).due_date == dt.date(2030, 2, 1)


@pytest.mark.parametrize("name,args", [
    ("dashboards:overview", []), ("dashboards:team", ["mine"]), ("dashboards:team_matrix", ["mine"]),
    ("dashboards:person", ["ann"]), ("dashboards:assign", []),
])
def test_employees_cannot_open_manager_pages(client, world, name, args):
    client.force_login(world["ann"])
    assert client.get(reverse(name, args=[world[a].pk for a in args])).status_code == 403
    assert client.post(reverse("dashboards:export"), {"kind": "matrix"}).status_code == 403


def test_my_progress_shows_only_me(client, world):
    client.force_login(world["ann"])
    html = client.get(reverse("dashboards:my_progress")).content.decode()
    assert "My progress" in html and "60%" in html
    assert world["zed"].display_name not in html
    assert "GPU-seconds, last 7 days" in html and "0.0 / 14400 (0%)" in html


def test_admin_sees_every_team(client, world):
    client.force_login(make_user(Role.ADMIN))
    html = client.get(reverse("dashboards:overview")).content.decode()
    assert "Mine" in html and "Theirs" in html
    assert client.get(reverse("dashboards:person", args=[world["zed"].pk])).status_code == 200
    rows = csv_rows(client.post(reverse("dashboards:export"), {"kind": "attempts"}))
    assert {r["team"] for r in rows} == {"Mine", "Theirs"}


def test_employee_home_lists_assignments_with_overdue_flagged(client, world):
    client.force_login(world["zed"])
    html = client.get(reverse("courseapp:catalog")).content.decode()
    assert "Assigned to you" in html and "Due 2030-01-01" in html and "Overdue" not in html
    Assignment.objects.update(due_date=dt.date(2000, 1, 1))
    html = client.get(reverse("courseapp:catalog")).content.decode()
    assert "Overdue: was due 2000-01-01" in html
    client.force_login(world["ann"])
    assert "Assigned to you" not in client.get(reverse("courseapp:catalog")).content.decode()


def test_old_team_url_redirects(client, world):
    client.force_login(world["manager"])
    response = client.get("/accounts/team/")
    assert response.status_code == 302 and response["Location"] == reverse("dashboards:overview")


FORMULAS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\ry"]


def test_formula_cells_are_neutralised_in_every_export(client, world, tmp_path):
    # Names as typed into an import; each would run as a formula in a spreadsheet.
    people = [world["ann"]] + [make_user(Role.EMPLOYEE, team=world["mine"]) for _ in FORMULAS[1:]]
    lesson = Lesson.objects.filter(course=world["course"]).first()
    for person, name in zip(people, FORMULAS, strict=True):
        person.name = name
        person.save(update_fields=["name"])
        attempt(person, lesson.quiz, score=50)
    client.force_login(world["manager"])
    from dashboards.services import export_write

    for kind in ("matrix", "attempts"):
        streamed = csv_rows(client.post(reverse("dashboards:export"), {"kind": kind}))
        path = tmp_path / f"{kind}.csv"
        export_write(viewer=world["manager"], kind=kind, params={"team": None, "course": None}, path=path)
        stored = list(csv.DictReader(io.StringIO(path.read_bytes().decode(), newline="")))
        for rows in (streamed, stored):
            names = {r["name"] for r in rows}
            assert names >= {"'" + f for f in FORMULAS}, (kind, names)
            assert not any(n.startswith(("=", "+", "-", "@", "\t", "\r")) for n in names)


def test_the_team_filter_names_what_the_page_shows(client, world):
    """On a team's page the filter's team select shows that team, not "All my teams";
    an admin's "all" choice says all teams."""
    client.force_login(world["manager"])
    html = client.get(reverse("dashboards:team", args=[world["mine"].pk])).content.decode()
    assert f'<option value="{world["mine"].pk}" selected>Mine</option>' in html
    html = client.get(reverse("dashboards:overview")).content.decode()
    assert 'value="" selected>All my teams</option>' in html
    client.force_login(make_user(Role.ADMIN))
    html = client.get(reverse("dashboards:overview")).content.decode()
    assert ">All teams</option>" in html and "All my teams" not in html
