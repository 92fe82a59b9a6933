"""The learner journey in a real browser: a new employee logs in, reads a lesson in
both languages (math typeset by KaTeX, code highlighted, no CSP error), takes a quiz
with one wrong answer explained and passes, sees progress and "resume", and earns a
certificate whose verification URL works logged out."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from courseapp import services
from courseapp.models import Attempt, Choice, Course, Lesson, Question, Quiz
from tests.courseapp.helpers import response_for, responses
from tests.e2e.test_foundation_journey import login
from tests.factories import make_team, make_user
from training.models import FineTuneJob

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]
SHOTS = Path(settings.VAR_DIR) / "screenshots"


def answer(page, attempt, question_id: int, *, right: bool):
    """Fill in one question on the attempt page, as a learner would."""
    question = Question.objects.get(pk=question_id)
    values = response_for(attempt, question_id, right=right)
    fieldset = page.locator(f"#question-{question_id}")
    if question.type in ("single", "multiple"):
        for key in values:
            fieldset.locator(f'input[value="{key}"]').check()
    else:
        fieldset.get_by_label("Your answer").fill(values[0].strip())
    return fieldset


def take_quiz(page, quiz: Quiz, *, wrong_first: bool):
    page.get_by_role("button", name=re.compile("Start the quiz|Try again")).click()
    page.wait_for_url(re.compile(r"/learn/attempts/\d+/$"))
    attempt = Attempt.objects.filter(quiz=quiz).latest("id")
    first = attempt.question_ids[0]
    if wrong_first:
        fieldset = answer(page, attempt, first, right=False)
        fieldset.get_by_role("button", name="Check answer").click()
        checked = page.locator(f"#question-{first}.answered")
        expect(checked.locator(".question-feedback")).to_contain_text("Wrong")
        question = Question.objects.get(pk=first)
        # The question's explanation and every choice's explanation are shown.
        expect(checked.locator(".question-feedback .explanation")).to_contain_text(
            question.explanation["en"].split("\n")[0][:40])
        for choice in Choice.objects.filter(question=question):
            expect(checked).to_contain_text(choice.explanation["en"])
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "quiz-feedback.png"), full_page=True)
    for question_id in attempt.question_ids[1 if wrong_first else 0:]:
        answer(page, attempt, question_id, right=True)
    page.get_by_role("button", name="Submit the attempt").click()
    expect(page.locator("#attempt-result")).to_contain_text("Passed")
    return Attempt.objects.get(pk=attempt.pk)


def test_learner_journey(page, registered_models):  # lesson 2 embeds an attention heatmap
    course = services.course_seed_builtin(log=lambda *_: None)
    employee = make_user(Role.EMPLOYEE, team=make_team())
    SHOTS.mkdir(parents=True, exist_ok=True)

    # A new employee lands on the catalog and starts the course.
    login(page, employee.username)
    page.wait_for_url(re.compile(r"/learn/$"))
    page.get_by_role("link", name="Start the course").click()
    page.wait_for_url(re.compile(r"/learn/how-llms-work/lessons/01-why-llms/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Why LLMs matter for a company")

    # ... reads it in Chinese through the language switcher, and back in English.
    page.get_by_label("Language").select_option("zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    zh_title = Lesson.objects.get(slug="01-why-llms").title["zh-Hans"]
    expect(page.get_by_role("heading", level=1)).to_have_text(zh_title)
    page.screenshot(path=str(SHOTS / "lesson-zh.png"), full_page=True)
    page.get_by_label("语言").select_option("en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Why LLMs matter for a company")

    # Mark complete → the lesson's quiz; one wrong answer explained, then a pass.
    page.get_by_role("button", name="Mark complete").click()
    page.wait_for_url(re.compile(r"/quizzes/01-why-llms-quiz/$"))
    quiz = Quiz.objects.get(slug="01-why-llms-quiz")
    attempt = take_quiz(page, quiz, wrong_first=True)
    assert attempt.passed and 70 <= attempt.score < 100
    page.screenshot(path=str(SHOTS / "quiz-result.png"), full_page=True)

    # Progress and "resume" reflect it: tokens come next, then attention, which typesets math and highlights code.
    page.goto("/learn/me/")
    card = page.locator(".learning-card")
    items = Lesson.objects.filter(course__slug="how-llms-work").count() + Quiz.objects.filter(
        course__slug="how-llms-work").count()  # every lesson and quiz, the final exam included
    expect(card).to_contain_text(f"2 of {items} done")
    expect(card.locator("table.scores")).to_contain_text(f"{attempt.score:g}%")
    resume = card.get_by_role("link", name=re.compile("^Resume"))
    expect(resume).to_have_attribute("href", "/learn/how-llms-work/lessons/03-tokens-embeddings-hidden-states/")
    page.screenshot(path=str(SHOTS / "my-learning.png"), full_page=True)
    resume.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Tokens, embeddings and hidden states")
    page.get_by_role("button", name="Mark complete").click()
    page.goto("/learn/how-llms-work/lessons/02-transformer-attention/")
    expect(page.get_by_role("heading", level=1)).to_have_text("The Transformer and self-attention")
    expect(page.locator(".math-display .katex-display").first).to_be_visible()
    assert page.locator(".math-inline .katex").count() > 10
    assert page.locator("pre code.hljs .hljs-keyword").count() > 0
    tryit = page.locator(".tryit a").first
    assert tryit.get_attribute("href").startswith("/playground/attention/?view=heatmap&model=smollm2-135m-instruct")
    page.screenshot(path=str(SHOTS / "lesson-math.png"), full_page=True)
    outline = page.get_by_role("navigation", name="Course outline")
    expect(outline.locator(".outline-item.is-done")).to_have_count(3)

    # Finish the rest behind the scenes, except the final exam, taken in the browser.
    # Lesson 5's lab questions read the learner's own finished fine-tune: here its record
    # (a real job and its lab answers are tested in tests/e2e/test_finetune_lab.py).
    FineTuneJob.objects.create(user=employee, name="lab", kind="causal_lm", base_model="smollm2-135m-instruct",
                               queue_name="default", status="succeeded", attempts=1, steps_done=24,
                               steps_total=24, last_loss=1.8, finished_at=timezone.now(),
                               eval_before={"perplexity": 9.8765, "loss": 2.2903},
                               eval_after={"perplexity": 7.1234, "loss": 1.9633})
    for lesson in Lesson.objects.filter(course=course):
        services.lesson_complete(user=employee, lesson=lesson)
    for other in Quiz.objects.filter(course=course, lesson__isnull=False).exclude(pk=quiz.pk):
        started = services.attempt_start(user=employee, quiz=other)
        services.attempt_submit(user=employee, attempt_id=started.pk, responses=responses(started))
    page.goto("/learn/how-llms-work/quizzes/final-exam/")
    take_quiz(page, Quiz.objects.get(slug="final-exam"), wrong_first=False)
    page.get_by_role("link", name="Continue the course").click()
    page.get_by_role("link", name="View your certificate").click()
    page.wait_for_url(re.compile(r"/learn/certificates/[\w-]+/$"))
    certificate_url = page.url
    expect(page.locator(".certificate-name")).to_have_text(employee.display_name)
    assert Course.objects.get(pk=course.pk).certificates.get().user == employee

    # Anyone holding the code can verify it, logged out.
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.goto(certificate_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Certificate of completion")
    expect(page.locator(".certificate-name")).to_have_text(employee.display_name)
    expect(page.locator(".certificate-course")).to_have_text("How LLMs work")
    page.screenshot(path=str(SHOTS / "certificate.png"), full_page=True)

    assert page.watch.errors == [], page.watch.errors  # includes CSP violations
    assert page.watch.foreign == []
