"""Lab questions in the course format and in authoring, and what grading does before the
learner has a finished fine-tune. (Graded against a real job: tests/training/test_finetune_lab.py.)"""

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from courseapp import authoring, services
from courseapp.course_format.reader import read_course_folder
from courseapp.course_format.spec import FolderError
from courseapp.models import AttemptAnswer, Question, Quiz
from tests.courseapp.factories import choice_question, course_spec, make_course, quiz_spec, text, write_spec

pytestmark = pytest.mark.django_db


def lab_question(slug: str, metric: str = "perplexity_after", tolerance: float = 0.01) -> dict:
    return {"slug": slug, "type": "lab", "points": 1, "published": True, "pinned": True, "lab_metric": metric,
            "prompt": text("What was your held-out perplexity after training?"),
            "explanation": text("Read it on your job page."), "answer": None, "tolerance": tolerance,
            "accepted": {}, "choices": []}


def lab_spec() -> dict:
    spec = course_spec(lessons=1)
    spec["modules"][0]["lessons"][0]["quiz"] = quiz_spec(
        "lq", questions=[lab_question("lab-ppl"), choice_question("c1"), choice_question("c2")], per_attempt=2)
    return spec


def test_lab_questions_round_trip_through_the_course_format(tmp_path):
    spec = lab_spec()
    write_spec(spec, tmp_path / "c")
    text_out = (tmp_path / "c/lessons/m1-l1/quiz.yaml").read_text()
    assert "type: lab" in text_out and "metric: perplexity_after" in text_out and "tolerance: 0.01" in text_out
    course = make_course(spec=spec)
    question = Question.objects.get(quiz__course=course, slug="lab-ppl")
    assert (question.type, question.lab_metric, question.tolerance, question.pinned) == (
        "lab", "perplexity_after", 0.01, True)
    authoring.course_export(course=course, folder=tmp_path / "again")
    assert (tmp_path / "again/lessons/m1-l1/quiz.yaml").read_text() == text_out


@pytest.mark.parametrize(("old", "new", "message"), [
    ("    metric: perplexity_after\n", "", "missing key 'metric'"),
    ("metric: perplexity_after", "metric: accuracy", "'metric' must be one of steps, perplexity_before"),
    ("tolerance: 0.01", "tolerance: -1", "'tolerance' cannot be negative"),
])
def test_reader_refuses_a_malformed_lab_question(tmp_path, old, new, message):
    write_spec(lab_spec(), tmp_path / "c")
    path = tmp_path / "c/lessons/m1-l1/quiz.yaml"
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))
    with pytest.raises(FolderError) as exc:
        read_course_folder(tmp_path / "c")
    assert any(message in e and e.startswith("c/lessons/m1-l1/quiz.yaml:") for e in exc.value.errors), exc.value.errors


def test_without_a_finished_fine_tune_a_lab_answer_is_refused_in_the_learners_language(employee):
    make_course(spec=lab_spec())
    quiz = Quiz.objects.get(slug="lq")
    lab = Question.objects.get(quiz=quiz, slug="lab-ppl")
    attempt = services.attempt_start(user=employee, quiz=quiz)
    assert lab.pk in attempt.question_ids  # pinned
    for lang, message in (("en", "Start the lab's fine-tune first"), ("zh-hans", "请先启动本实验的微调")):
        with translation.override(lang), pytest.raises(ValidationError, match=message):
            services.attempt_answer_check(user=employee, attempt_id=attempt.pk, question_id=str(lab.pk),
                                          values=["7.12"])
        with translation.override(lang), pytest.raises(ValidationError, match=message):
            services.attempt_submit(user=employee, attempt_id=attempt.pk, responses={str(lab.pk): ["7.12"]})
    assert not AttemptAnswer.objects.exists()
    # Not a number: refused as for numeric questions.
    with pytest.raises(ValidationError, match="is not a number"):
        services.attempt_answer_check(user=employee, attempt_id=attempt.pk, question_id=str(lab.pk), values=["lots"])
    # Left blank, it earns nothing and does not block the submission.
    done = services.attempt_submit(user=employee, attempt_id=attempt.pk, responses={})
    assert done.results[str(lab.pk)] == 0 and done.responses[str(lab.pk)] == []


def test_author_sets_a_lab_questions_value(client, admin_user):
    make_course(spec=lab_spec())
    client.force_login(admin_user)
    quiz = Quiz.objects.get(slug="lq")
    client.post(f"/learn/author/quizzes/{quiz.pk}/questions/new/", {"slug": "lab-steps", "type": "lab"})
    question = Question.objects.get(quiz=quiz, slug="lab-steps")
    page = client.get(f"/learn/author/questions/{question.pk}/").content.decode()
    assert 'name="lab_metric"' in page and "Optimizer steps run" in page
    data = {"prompt_en": "How many steps?", "prompt_zh_hans": "多少步？", "explanation_en": "Count them.",
            "explanation_zh_hans": "数一数。", "points": 1, "tolerance": "0"}
    response = client.post(f"/learn/author/questions/{question.pk}/", data)
    assert response.status_code == 200 and "A lab question needs the value it asks for." in response.content.decode()
    assert client.post(f"/learn/author/questions/{question.pk}/", data | {"lab_metric": "steps"}).status_code == 302
    question.refresh_from_db()
    assert question.lab_metric == "steps" and question.tolerance == 0
