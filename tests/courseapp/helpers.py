"""Answering attempts in tests: the right (or a wrong) response for each drawn question."""

from courseapp.models import Choice, Question
from training.models import FineTuneJob, JobStatus


def lab_answer(user, metric: str) -> float:
    """A lab question's value, read straight from the learner's latest succeeded
    language-model fine-tune (the row the job page shows)."""
    job = (FineTuneJob.objects.filter(user=user, kind="causal_lm", status=JobStatus.SUCCEEDED)
           .order_by("-finished_at", "-pk").first())
    assert job is not None, "a lab question needs a finished fine-tune of this learner"
    return {"steps": job.steps_done, "perplexity_before": job.eval_before["perplexity"],
            "perplexity_after": job.eval_after["perplexity"], "eval_loss_before": job.eval_before["loss"],
            "eval_loss_after": job.eval_after["loss"], "final_train_loss": job.last_loss}[metric]


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
    if question.type == "lab":
        return [str(lab_answer(attempt.user, question.lab_metric) + (0 if right else question.tolerance + 10))]
    return [question.accepted["en"][0].upper() + "  " if right else "definitely wrong"]


def responses(attempt, *, wrong: int = 0) -> dict[str, list[str]]:
    """Right answers to every drawn question, except the first `wrong` ones."""
    return {str(qid): response_for(attempt, qid, right=i >= wrong) for i, qid in enumerate(attempt.question_ids)}


def unlock(user, obj) -> None:
    """Complete, as the learner would first, the lessons whose prerequisites lock `obj`
    (a lesson or quiz) for `user`: the services refuse a locked item."""
    from courseapp import services
    from courseapp.models import Quiz
    from courseapp.selectors import course_outline

    kind = "quiz" if isinstance(obj, Quiz) else "lesson"
    item = course_outline(course=obj.course, user=user).find(kind, obj.slug)
    assert item is not None, f"{obj.slug} is not in {user}'s outline"
    for blocker in item.locked_by:
        assert blocker.kind == "lesson", f"{obj.slug} waits for a quiz: pass {blocker.slug} first"
        unlock(user, blocker.obj)
        services.lesson_complete(user=user, lesson=blocker.obj)
