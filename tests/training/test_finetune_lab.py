"""Lesson 5's fine-tuning lab, end to end: an employee's real fine-tune runs on a real
Celery worker (CPU, tiny parameters), and the lab questions of the lesson's quiz are
graded against that job's own record: its values pass, other values fail."""

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone, translation
from django.utils.html import escape

from accounts.models import Role
from courseapp import services as course_services
from courseapp.models import AttemptAnswer, Question, Quiz
from tests.courseapp.helpers import responses, unlock
from tests.factories import make_user
from tests.training.conftest import wait_final
from training import services
from training.models import FineTuneJob, JobMetric, JobStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
LAB = ("lab-steps", "lab-perplexity-before", "lab-perplexity-after")


def check(client: Client, attempt, question: Question, value: str, lang: str = "en"):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
    return client.post(f"/learn/attempts/{attempt.pk}/questions/{question.pk}/check/", {f"q-{question.pk}": value},
                       HTTP_HX_REQUEST="true")


def test_lab_questions_are_graded_against_the_learners_own_job(celery_worker, registered_models, tiny):
    course_services.course_seed_builtin(log=lambda *_: None)
    employee = make_user(Role.EMPLOYEE)
    client = Client()
    client.force_login(employee)
    quiz = Quiz.objects.get(slug="05-fine-tuning-quiz")
    lab = {q.slug: q for q in Question.objects.filter(quiz=quiz, type="lab")}
    assert sorted(lab) == sorted(LAB) and all(q.pinned for q in lab.values())

    # Pinned: every attempt has the lab questions.
    unlock(employee, quiz)
    first = course_services.attempt_start(user=employee, quiz=quiz)
    assert {q.pk for q in lab.values()} <= set(first.question_ids)

    # No finished fine-tune yet: the page and the check say to start the lab's first, in the
    # page's language, and nothing is locked.
    page = client.get(f"/learn/attempts/{first.pk}/").content.decode()
    assert page.count("You have no finished fine-tune yet. Start the lab") == 3
    response = check(client, first, lab["lab-steps"], "24")
    assert response.status_code == 422 and "Start the lab&#x27;s fine-tune first" in response.content.decode()
    response = check(client, first, lab["lab-steps"], "24", lang="zh-hans")
    assert response.status_code == 422 and "请先启动本实验的微调" in response.content.decode()
    assert not AttemptAnswer.objects.exists()

    # The learner runs the lab's fine-tune: the CPU preset, LoRA, the built-in FAQ (tiny sizes).
    services.quota_set(user=employee, max_concurrent=5, gpu_seconds_per_week=None)
    job = services.job_submit(user=employee, kind="causal_lm", preset="cpu-quick", method="lora",
                              builtin_dataset="company-faq", overrides=tiny)
    job = wait_final(job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.failure_reason
    # Its steps, counted on the loss curve; its perplexities, as the job page shows them.
    steps = JobMetric.objects.filter(job=job, attempt=job.attempts).count()
    assert steps == tiny["steps"]
    before, after = job.eval_before["perplexity"], job.eval_after["perplexity"]
    assert before > 1 and after > 1 and before != after

    # A later failed job and another learner's job do not count.
    FineTuneJob.objects.create(user=employee, name="broken", kind="causal_lm", base_model=job.base_model,
                               queue_name=job.queue_name, status=JobStatus.FAILED, finished_at=timezone.now(),
                               steps_done=1, eval_before={"perplexity": 99.0, "loss": 4.6})
    FineTuneJob.objects.create(user=make_user(Role.EMPLOYEE), name="theirs", kind="causal_lm",
                               base_model=job.base_model, queue_name=job.queue_name, status=JobStatus.SUCCEEDED,
                               finished_at=timezone.now(), steps_done=7, eval_before={"perplexity": 50.0, "loss": 3.9},
                               eval_after={"perplexity": 40.0, "loss": 3.7})

    # The page now names the job the answers will be checked against.
    assert client.get(f"/learn/attempts/{first.pk}/").content.decode().count(f"#{job.pk} {escape(job.name)}") == 3

    # Wrong values fail: one step off, perplexities off by more than the tolerance.
    wrong = {"lab-steps": str(steps + 1), "lab-perplexity-before": f"{before + 0.05:.2f}",
             "lab-perplexity-after": f"{after - 0.05:.2f}"}
    for slug, value in wrong.items():
        response = check(client, first, lab[slug], value)
        assert response.status_code == 200, response.content
        html = response.content.decode()
        assert "verdict-wrong" in html and f"#{job.pk}" in html
        expected = steps if slug == "lab-steps" else (before if slug.endswith("before") else after)
        assert f"{float(expected):g}" in html  # the expected answer, from this learner's job
    failed = course_services.attempt_submit(user=employee, attempt_id=first.pk, responses={
        k: v for k, v in responses(first).items() if int(k) not in {q.pk for q in lab.values()}})
    assert all(failed.results[str(q.pk)] == 0 for q in lab.values()) and not failed.passed

    # The right values, read from the job and rounded as a learner writes them, pass.
    attempt = course_services.attempt_start(user=employee, quiz=quiz)
    right = {"lab-steps": str(steps), "lab-perplexity-before": f"{before:.2f}", "lab-perplexity-after": f"{after:.2f}"}
    for slug, value in right.items():
        response = check(client, attempt, lab[slug], value, lang="zh-hans")
        assert response.status_code == 200 and "verdict-correct" in response.content.decode()
    answers = {a.question_id: a for a in AttemptAnswer.objects.filter(attempt=attempt)}
    assert all(answers[q.pk].fraction == 1 and answers[q.pk].response[2] == str(job.pk) for q in lab.values())
    passed = course_services.attempt_submit(user=employee, attempt_id=attempt.pk, responses={
        k: v for k, v in responses(attempt).items() if int(k) not in {q.pk for q in lab.values()}})
    assert passed.passed and passed.score == 100

    # And through the service: the other learner's steps are wrong for this one.
    third = course_services.attempt_start(user=employee, quiz=quiz)
    with translation.override("en"):
        locked = course_services.attempt_answer_check(user=employee, attempt_id=third.pk,
                                                      question_id=str(lab["lab-steps"].pk), values=["7"])
    assert locked.fraction == 0
    with pytest.raises(ValidationError):  # checked once, final
        course_services.attempt_answer_check(user=employee, attempt_id=third.pk,
                                             question_id=str(lab["lab-steps"].pk), values=[str(steps)])
