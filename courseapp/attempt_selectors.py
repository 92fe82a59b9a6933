"""Reads for quiz attempts: a learner's attempts, one attempt, and its questions as
the attempt page shows them (answers revealed only once answered)."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import NotFound

from .i18n import pick
from .models import Attempt, Question, Quiz


def quiz_attempts(*, quiz: Quiz, user) -> list[Attempt]:
    return list(Attempt.objects.filter(quiz=quiz, user=user).order_by("number"))


def attempt_get(*, attempt_id: int, user) -> Attempt:
    attempt = Attempt.objects.filter(pk=attempt_id, user=user).select_related("quiz__course").first()
    if attempt is None:
        raise NotFound
    return attempt


@dataclass
class ChoiceView:
    key: str
    text: str
    correct: bool
    explanation: str
    chosen: bool


@dataclass
class QuestionView:
    """A question as one attempt shows it. Correctness fields are filled only once
    answered (`answered`): the template must not reveal them before."""

    number: int
    question: object
    choices: list[ChoiceView]
    answered: bool = False
    response: list = field(default_factory=list)
    fraction: float | None = None
    lab_job: object = None  # lab questions not yet answered: the fine-tune they will be checked against

    @property
    def id(self) -> int:
        return self.question.pk

    @property
    def type(self) -> str:
        return self.question.type

    @property
    def verdict(self) -> str:
        if self.fraction is None:
            return ""
        return "correct" if self.fraction >= 0.999 else ("partial" if self.fraction > 0 else "wrong")

    @property
    def text_response(self) -> str:
        return self.response[0] if self.response else ""

    @property
    def points_earned(self) -> float:
        return round((self.fraction or 0) * self.question.points, 2)

    @property
    def model_answer(self) -> str:
        q = self.question
        if q.type == "numeric":
            answer = int(q.answer) if float(q.answer).is_integer() else q.answer
            return f"{answer} ± {q.tolerance:g}" if q.tolerance else f"{answer}"
        if q.type == "text":
            return pick(q.accepted)[0] if pick(q.accepted) else ""
        if q.type == "lab" and len(self.response) == 3:
            expected = float(self.response[1])
            return f"{expected:g} ± {q.tolerance:g}" if q.tolerance else f"{expected:g}"
        return ""

    @property
    def lab_job_id(self) -> int | None:
        """The fine-tune a graded lab answer was checked against."""
        return int(self.response[2]) if self.type == "lab" and len(self.response) == 3 else None


def attempt_questions(*, attempt: Attempt) -> list[QuestionView]:
    """The attempt's drawn questions in order, with shuffled choices under their
    attempt keys. Correct answers and explanations are included only for questions
    already answered (checked, or the whole attempt submitted)."""
    questions = {q.pk: q for q in Question.objects.filter(pk__in=attempt.question_ids).prefetch_related("choices")}
    checked = {str(a.question_id): a for a in attempt.answers.all()}
    views = []
    for number, question_id in enumerate(attempt.question_ids, start=1):
        question = questions.get(question_id)
        if question is None:
            continue
        key = str(question_id)
        choices_by_id = {c.pk: c for c in question.choices.all()}
        if attempt.is_submitted:
            answered, response, fraction = True, attempt.responses.get(key, []), attempt.results.get(key)
        elif key in checked:
            answered, response, fraction = True, checked[key].response, checked[key].fraction
        else:
            answered, response, fraction = False, [], None
        choices = []
        for choice_key, choice_id in attempt.choice_keys.get(key, []):
            choice = choices_by_id.get(choice_id)
            if choice is None:
                continue
            choices.append(ChoiceView(
                key=choice_key,
                text=choice.text_text,
                correct=choice.correct if answered else False,
                explanation=choice.explanation_text if answered else "",
                chosen=choice_key in response,
            ))
        views.append(QuestionView(number, question, choices, answered, response, fraction))
    if any(v.type == "lab" and not v.answered for v in views):
        from training.selectors import lab_job

        job = lab_job(user=attempt.user)
        for view in views:
            view.lab_job = job if view.type == "lab" and not view.answered else None
    return views
