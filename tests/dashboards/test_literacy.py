"""The AI-literacy record: what it holds, read from real lesson completions, quiz attempts
graded by the services (a lab question checked against the learner's own fine-tune) and
certificates; who may read it (core.policy); its CSV and its printable page, in both
languages."""

import csv
import io

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Role
from audit.models import AuditEntry
from courseapp import authoring
from courseapp import services as learn
from courseapp.models import Certificate, Lesson, Quiz
from dashboards.literacy import literacy_people, literacy_records
from tests.courseapp.factories import choice_question, course_spec, make_course, quiz_spec
from tests.courseapp.helpers import responses
from tests.factories import make_team, make_user
from training import services as training
from training.models import FineTuneJob, JobStatus

pytestmark = pytest.mark.django_db
FIGURES = {"steps_done": 24, "last_loss": 1.81, "eval_before": {"perplexity": 9.4, "loss": 2.24},
           "eval_after": {"perplexity": 7.12, "loss": 1.96}}


def lab_question() -> dict:
    return {"slug": "lab-ppl", "type": "lab", "points": 1, "published": True, "pinned": True,
            "lab_metric": "perplexity_after", "prompt": {"en": "Your perplexity after?", "zh-Hans": "训练后困惑度？"},
            "explanation": {"en": "On your job page.", "zh-Hans": "见作业页。"}, "answer": None, "tolerance": 0.01,
            "accepted": {}, "choices": []}


@pytest.fixture(autouse=True)
def english():
    # Titles come in the active language; an earlier test in the process may leave another.
    with translation.override("en"):
        yield


@pytest.fixture
def world():
    team_a, team_b = make_team("Alpha"), make_team("Beta")
    manager_a, manager_b = make_user(Role.MANAGER, team=team_a), make_user(Role.MANAGER, team=team_b)
    ana, ben = make_user(Role.EMPLOYEE, team=team_a, username="ana"), make_user(Role.EMPLOYEE, team=team_a)
    cy = make_user(Role.EMPLOYEE, team=team_b, username="cy")
    spec = course_spec(lessons=1)
    spec["modules"][0]["lessons"][0]["quiz"] = quiz_spec(
        "lab-quiz", prerequisites=["m1-l1"], questions=[lab_question(), choice_question("c1")], pass_mark=50)
    course = make_course(spec=spec)
    lesson, quiz = Lesson.objects.get(course=course), Quiz.objects.get(slug="lab-quiz")
    for person in (ana, ben, cy):
        learn.lesson_complete(user=person, lesson=lesson)
    # Ana's own fine-tune, finished with these figures (the row the training runner writes).
    job = training.job_submit(user=ana, kind="causal_lm", preset="cpu-quick", builtin_dataset="company-faq",
                              name="ana-lab")
    FineTuneJob.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED, finished_at=timezone.now(), **FIGURES)
    first = learn.attempt_start(user=ana, quiz=quiz)
    learn.attempt_submit(user=ana, attempt_id=first.pk, responses=responses(first, wrong=2))  # 0 %
    second = learn.attempt_start(user=ana, quiz=quiz)
    learn.attempt_submit(user=ana, attempt_id=second.pk, responses=responses(second))  # 100 %: a certificate
    ben.is_active = False  # deactivated: his training stays on the record
    ben.save()
    return {"course": course, "team_a": team_a, "team_b": team_b, "manager_a": manager_a, "manager_b": manager_b,
            "ana": ana, "ben": ben, "cy": cy, "job": FineTuneJob.objects.get(pk=job.pk), "lesson": lesson}


def test_the_record_holds_lessons_scores_labs_certificates_and_the_version(world):
    course, ana = world["course"], world["ana"]
    people, team = literacy_people(viewer=world["manager_a"], team_id=world["team_a"].pk)
    assert team == world["team_a"] and {p.username for p in people} == {"ana", world["ben"].username,
                                                                         world["manager_a"].username}
    records = {r.person.username: r for r in literacy_records(people=people)}
    (rec,) = records["ana"].courses
    assert rec.course == course and [lesson.title for lesson in rec.lessons] == ["Lesson m1-l1"]
    assert rec.lessons[0].completed_at == ana.lesson_progress.get().completed_at
    (quiz,) = rec.quizzes
    assert (quiz.best, quiz.passed, quiz.attempts) == (100.0, True, 2)
    labs = {(lab.job.pk, lab.correct, lab.asked) for lab in rec.labs}
    assert labs == {(world["job"].pk, 1, 1)}  # the latest attempt's lab answer, against her own job
    lab = rec.labs[0]
    assert lab.figures == {"steps": 24, "perplexity_before": 9.4, "perplexity_after": 7.12,
                           "eval_loss_before": 2.24, "eval_loss_after": 1.96, "final_train_loss": 1.81}
    assert rec.certificate == Certificate.objects.get(user=ana, course=course)
    course.refresh_from_db()
    assert rec.version == course.updated_at  # nothing changed since she took it
    # Ben is deactivated and still on the record, with his lesson.
    assert not records[world["ben"].username].person.is_active
    assert records[world["ben"].username].lessons_completed == 1


def test_the_version_is_the_one_taken_not_the_current_one(world):
    course, admin = world["course"], make_user(Role.ADMIN)
    course.refresh_from_db()
    taken = course.updated_at
    learn_cert = Certificate.objects.get(user=world["ana"])
    Certificate.objects.filter(pk=learn_cert.pk).update(issued_at=timezone.now())
    from audit.services import Origin

    authoring.item_set_published(obj=world["lesson"], published=False, origin=Origin(actor=admin))
    authoring.item_set_published(obj=world["lesson"], published=True, origin=Origin(actor=admin))
    course.refresh_from_db()
    assert course.updated_at > taken
    (rec,) = literacy_records(people=[world["ana"]])[0].courses
    assert rec.version == taken  # the version in force at her certificate, from the audit log
    cy = make_user(Role.EMPLOYEE)
    learn.lesson_complete(user=cy, lesson=world["lesson"])
    (now,) = literacy_records(people=[cy])[0].courses
    assert now.version == course.updated_at


def get(user, url: str, lang: str = "en"):
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
    return client.get(url)


def test_managers_see_only_their_teams_and_admins_everyone(world):
    manager, team_a, team_b = world["manager_a"], world["team_a"], world["team_b"]
    assert get(manager, reverse("dashboards:team_literacy", args=[team_a.pk])).status_code == 200
    for url in (reverse("dashboards:team_literacy", args=[team_b.pk]),
                reverse("dashboards:team_literacy_csv", args=[team_b.pk]),
                reverse("dashboards:person_literacy", args=[world["cy"].pk]),
                reverse("dashboards:person_literacy_csv", args=[world["cy"].pk])):
        assert get(manager, url).status_code == 404, url
    mine = get(manager, reverse("dashboards:literacy")).content.decode()
    assert world["ana"].email in mine and world["ben"].email in mine and world["cy"].email not in mine
    everyone = get(make_user(Role.ADMIN), reverse("dashboards:literacy")).content.decode()
    assert all(p.email in everyone for p in (world["ana"], world["ben"], world["cy"]))
    assert get(world["ana"], reverse("dashboards:literacy")).status_code == 403
    # A manager who moved to another team loses the old one at once.
    call_command("people", "add", manager.username, "--role", "manager", "--team", "Beta")
    assert get(manager, reverse("dashboards:team_literacy", args=[team_a.pk])).status_code == 404


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def test_the_csv_in_both_languages(world):
    manager, ana, job = world["manager_a"], world["ana"], world["job"]
    response = get(manager, reverse("dashboards:team_literacy_csv", args=[world["team_a"].pk]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = csv_rows(response)
    assert rows[0][:8] == ["team", "username", "full name", "email", "active", "course", "course version", "record"]
    mine = {r[7]: r for r in rows[1:] if r[1] == "ana"}
    assert set(mine) == {"lesson", "quiz", "lab", "certificate"}
    assert mine["lesson"][8] == "Lesson m1-l1" and mine["quiz"][10] == "100" and mine["quiz"][12] == "2"
    assert f"fine-tune #{job.pk}" in mine["lab"][13] and "perplexity 9.4 → 7.12" in mine["lab"][13]
    code = Certificate.objects.get(user=ana).code
    assert mine["certificate"][14] == f"http://testserver/learn/certificates/{code}/"
    ben = [r for r in rows if r[1] == world["ben"].username]
    assert [r[4] for r in ben] == ["no"] and ben[0][7] == "lesson"
    entry = AuditEntry.objects.get(action="export.downloaded")  # an export: on the audit log
    assert entry.actor == manager and entry.after["kind"] == "literacy" and entry.after["params"]["people"] == 3

    zh = csv_rows(get(manager, reverse("dashboards:person_literacy_csv", args=[ana.pk]), lang="zh-hans"))
    assert zh[0][:3] == ["团队", "用户名", "全名"]
    kinds = {r[7]: r for r in zh[1:]}
    assert set(kinds) == {"课时", "测验", "实验", "证书"} and kinds["课时"][8] == "第 m1-l1 课"


def test_the_printable_page_in_both_languages(world):
    url = reverse("dashboards:team_literacy", args=[world["team_a"].pk])
    page = get(world["manager_a"], url).content.decode()
    assert "css/records.css" in page and "Print or save as PDF" in page and "Article 4 of the EU AI Act" in page
    code = Certificate.objects.get(user=world["ana"]).code
    assert f"http://testserver/learn/certificates/{code}/" in page and "deactivated" in page
    assert f"#{world['job'].pk} ana-lab" in page and "7.12" in page and "100%" in page
    zh = get(world["manager_a"], url, lang="zh-hans").content.decode()
    assert "AI 素养记录" in zh and "打印或另存为 PDF" in zh and "第 m1-l1 课" in zh and "已停用" in zh
    # Linked from the team page and the person's page.
    team_page = get(world["manager_a"], reverse("dashboards:team", args=[world["team_a"].pk])).content.decode()
    assert url in team_page
    person = get(world["manager_a"], reverse("dashboards:person", args=[world["ana"].pk])).content.decode()
    assert reverse("dashboards:person_literacy", args=[world["ana"].pk]) in person


def test_the_record_reads_in_a_fixed_number_of_queries(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(people) -> int:
        with CaptureQueriesContext(connection) as ctx:
            literacy_records(people=people)
        return len(ctx.captured_queries)

    few = queries([world["ana"]])
    for _ in range(5):
        learn.lesson_complete(user=make_user(Role.EMPLOYEE, team=world["team_a"]), lesson=world["lesson"])
    people, _team = literacy_people(viewer=world["manager_a"], team_id=world["team_a"].pk)
    assert len(people) == 8 and queries(people) == few
