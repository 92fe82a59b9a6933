"""Answering attempts in tests: the right (or a wrong) response for each drawn question."""

from courseapp.models import Choice, Question


def response_for(attempt, question_id: int, *, right: bool = True) -> list[str]:
    question = Question.objects.get(pk=question_id)
    keys = attempt.choice_keys.get(str(question_id), [])
    correct = {c.pk for c in Choice.objects.filter(question=question, correct=True)}
    if question.type == "single":
        pick = [k for k, cid in keys if (cid in correct) == right]
        return pick[:1]
    if question.type == "multiple":
        return [k for k, cid in keys if (cid in correct) == right]
    if question.type == "numeric":
        return [str(question.answer if right else question.answer + question.tolerance + 10)]
    return [question.accepted["en"][0].upper() + "  " if right else "definitely wrong"]


def responses(attempt, *, wrong: int = 0) -> dict[str, list[str]]:
    """Right answers to every drawn question, except the first `wrong` ones."""
    return {str(qid): response_for(attempt, qid, right=i >= wrong) for i, qid in enumerate(attempt.question_ids)}
