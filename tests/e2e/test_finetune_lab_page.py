"""Lesson 5's lab in the browser: the lab section in both languages, and its quiz
questions, which say which fine-tune they are checked against (or that there is none
yet) and show the value read from it. The real job behind such answers is tested in
tests/training/test_finetune_lab.py; here the learner's finished job is its record."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from courseapp import services
from courseapp.models import Attempt, Lesson, Question
from tests.courseapp.helpers import unlock
from tests.e2e.helpers import login
from tests.factories import make_team, make_user
from training.models import FineTuneJob

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]
SHOTS = Path(settings.VAR_DIR) / "screenshots"


def test_lab_section_and_questions(page):
    course = services.course_seed_builtin(log=lambda *_: None)
    employee = make_user(Role.EMPLOYEE, team=make_team())
    lesson = Lesson.objects.get(course=course, slug="05-fine-tuning")
    unlock(employee, lesson)
    SHOTS.mkdir(parents=True, exist_ok=True)
    login(page, employee.username)

    page.goto("/learn/how-llms-work/lessons/05-fine-tuning/")
    section = page.get_by_role("heading", name="Lab: fine-tune a model yourself")
    expect(section).to_be_visible()
    expect(page.locator("article a[href='/training/']").first).to_be_visible()
    section.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "lab-section-en.png"))
    page.get_by_label("Language").select_option("zh-hans")
    expect(page.get_by_role("heading", name="实验：亲手微调一个模型")).to_be_visible()
    page.get_by_role("heading", name="实验：亲手微调一个模型").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "lab-section-zh-hans.png"))
    page.get_by_label("语言").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    # No finished fine-tune yet: each lab question says to start the lab's first.
    services.lesson_complete(user=employee, lesson=lesson)
    page.goto("/learn/how-llms-work/quizzes/05-fine-tuning-quiz/")
    page.get_by_role("button", name="Start the quiz").click()
    page.wait_for_url(re.compile(r"/learn/attempts/\d+/$"))
    attempt = Attempt.objects.get(user=employee)
    steps_q = Question.objects.get(quiz=attempt.quiz, slug="lab-steps")
    after_q = Question.objects.get(quiz=attempt.quiz, slug="lab-perplexity-after")
    expect(page.locator(".lab-source.lab-missing")).to_have_count(3)
    fieldset = page.locator(f"#question-{steps_q.pk}")
    fieldset.get_by_label("Your answer").fill("24")
    fieldset.get_by_role("button", name="Check answer").click()
    expect(fieldset.locator(".q-errors")).to_contain_text("Start the lab's fine-tune first")
    page.screenshot(path=str(SHOTS / "lab-questions-no-job.png"), full_page=True)

    # With a finished job the questions name it, and the feedback shows its values.
    job = FineTuneJob.objects.create(
        user=employee, name="my lab", kind="causal_lm", base_model="smollm2-135m-instruct", queue_name="default",
        status="succeeded", attempts=1, steps_done=24, steps_total=24, last_loss=1.8, finished_at=timezone.now(),
        eval_before={"perplexity": 9.8765, "loss": 2.2903}, eval_after={"perplexity": 7.1234, "loss": 1.9633})
    page.reload()
    expect(page.locator(".lab-source")).to_have_count(3)
    expect(page.locator(".lab-source.lab-missing")).to_have_count(0)
    expect(page.locator(".lab-source").first).to_contain_text(f"#{job.pk} my lab")
    fieldset = page.locator(f"#question-{steps_q.pk}")
    fieldset.get_by_label("Your answer").fill("24")
    fieldset.get_by_role("button", name="Check answer").click()
    checked = page.locator(f"#question-{steps_q.pk}.answered")
    expect(checked.locator(".question-feedback")).to_contain_text("Correct")
    expect(checked.locator(".lab-source")).to_contain_text(f"Checked against your fine-tune #{job.pk}")
    fieldset = page.locator(f"#question-{after_q.pk}")
    fieldset.get_by_label("Your answer").fill("7.5")
    fieldset.get_by_role("button", name="Check answer").click()
    checked = page.locator(f"#question-{after_q.pk}.answered")
    expect(checked.locator(".question-feedback")).to_contain_text("Wrong")
    expect(checked.locator(".model-answer")).to_contain_text("7.1234 ± 0.01")
    checked.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "lab-questions-en.png"), full_page=True)
    page.get_by_label("Language").select_option("zh-hans")
    expect(page.locator(f"#question-{after_q.pk} .lab-source")).to_contain_text(f"已用你的微调任务 #{job.pk} 核对")
    page.screenshot(path=str(SHOTS / "lab-questions-zh-hans.png"), full_page=True)
