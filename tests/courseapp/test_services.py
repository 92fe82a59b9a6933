import io
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from courseapp import services
from courseapp.models import (
    Attempt,
    AttemptAnswer,
    AttemptStatus,
    Certificate,
    Course,
    Enrollment,
    Lesson,
    LessonProgress,
    Question,
    Quiz,
)
from courseapp.selectors import course_outline
from tests.courseapp.factories import make_course
from tests.courseapp.helpers import response_for, responses, unlock

pytestmark = pytest.mark.django_db


def test_seed_builtin_loads_the_course_once(builtin_course):
    assert builtin_course.slug == "how-llms-work" and builtin_course.published
    assert builtin_course.modules.count() == 4
    assert builtin_course.lessons.count() == 17
    assert builtin_course.quizzes.filter(lesson__isnull=True).get().slug == "final-exam"
    lesson = builtin_course.lessons.get(slug="02-transformer-attention")
    assert lesson.body["en"].startswith("# The Transformer") and "自注意力" in lesson.body["zh-Hans"]
    assert 'class="math math-display"' in lesson.body_html["en"]
    assert "/playground/attention/?view=heatmap&amp;model=smollm2-135m-instruct&amp;text=" in lesson.body_html["en"]
    assert '<iframe class="tryit-embed"' in lesson.body_html["en"]
    assert services.course_seed_builtin(log=lambda *_: None).pk == builtin_course.pk
    assert Course.objects.count() == 1


def test_lesson_complete_keeps_the_measured_reading_time(employee):
    course = make_course(lessons=2, quizzes=False)
    lesson = course.lessons.first()
    services.lesson_visit(user=employee, lesson=lesson)
    # Opened hours ago, but read actively for 90 s: the wall clock is not reading time.
    LessonProgress.objects.filter(user=employee).update(first_viewed_at=timezone.now() - timedelta(hours=5))
    assert services.lesson_time_add(user=employee, lesson=lesson, seconds=90) == 90
    progress = services.lesson_complete(user=employee, lesson=lesson)
    assert progress.completed_at is not None and progress.time_spent_seconds == 90
    assert LessonProgress.objects.get(pk=progress.pk).time_spent_seconds == 90
    other = course.lessons.last()
    services.lesson_visit(user=employee, lesson=other)
    assert services.lesson_complete(user=employee, lesson=other).time_spent_seconds == 0
    assert Enrollment.objects.get(user=employee, course=course).last_lesson == other


def test_attempt_draws_from_the_pool_with_opaque_shuffled_keys(employee):
    course = make_course(lessons=1)
    quiz = Quiz.objects.get(course=course)
    quiz.questions_per_attempt, quiz.max_attempts = 2, 0
    quiz.save()
    orders, draws, all_keys = set(), set(), set()
    unlock(employee, quiz)
    for _ in range(25):
        attempt = services.attempt_start(user=employee, quiz=quiz)
        assert len(attempt.question_ids) == 2
        assert set(attempt.question_ids) <= set(quiz.questions.values_list("pk", flat=True))
        draws.add(tuple(sorted(attempt.question_ids)))
        for qid, pairs in attempt.choice_keys.items():
            keys = [k for k, _ in pairs]
            assert not any(k.isdigit() for k in keys)
            all_keys.update(keys)
            orders.add((qid, tuple(cid for _, cid in pairs)))
        services.attempt_submit(user=employee, attempt_id=attempt.pk, responses={})
    assert len(draws) > 1, "questions are drawn at random"
    assert len(orders) > len({qid for qid, _ in orders}), "choices are shuffled per attempt"
    assert len(all_keys) > 40, "every attempt gets fresh choice keys"


def test_scoring_single_multiple_numeric_and_text(employee):
    course = make_course(lessons=1)
    quiz = Quiz.objects.get(course=course)
    unlock(employee, quiz)
    attempt = services.attempt_start(user=employee, quiz=quiz)
    by_type = {Question.objects.get(pk=qid).type: qid for qid in attempt.question_ids}
    multiple = by_type["multiple"]
    pairs = attempt.choice_keys[str(multiple)]
    correct = set(Question.objects.get(pk=multiple).choices.filter(correct=True).values_list("pk", flat=True))
    # Tick one of the two correct choices and nothing else: half the right share, no wrong share.
    one_right = [next(k for k, cid in pairs if cid in correct)]
    sent = {
        str(by_type["single"]): response_for(attempt, by_type["single"], right=False),
        str(multiple): one_right,
        str(by_type["numeric"]): ["64.4"],  # within the 0.5 tolerance
        str(by_type["text"]): ["  SoftMax "],
    }
    attempt = services.attempt_submit(user=employee, attempt_id=attempt.pk, responses=sent)
    assert attempt.results == {str(by_type["single"]): 0.0, str(multiple): 0.5, str(by_type["numeric"]): 1.0,
                               str(by_type["text"]): 1.0}
    # points: single 1, multiple 1, numeric 2, text 1 → (0 + 0.5 + 2 + 1) / 5
    assert attempt.score == 70.0 and attempt.passed is True
    attempt2 = services.attempt_start(user=employee, quiz=quiz)
    sent = {str(by_type["numeric"]): ["65"], str(by_type["text"]): ["cross entropy"]}
    attempt2 = services.attempt_submit(user=employee, attempt_id=attempt2.pk, responses=sent)
    assert attempt2.results[str(by_type["numeric"])] == 0.0 and attempt2.results[str(by_type["text"])] == 0.0
    assert attempt2.passed is False
    item = course_outline(course=course, user=employee).find("quiz", quiz.slug)
    assert item.best_score == 70.0 and item.done and item.attempts_used == 2


def test_checked_answer_is_final_and_counts(employee):
    course = make_course(lessons=1)
    quiz = Quiz.objects.get(course=course)
    unlock(employee, quiz)
    attempt = services.attempt_start(user=employee, quiz=quiz)
    first = attempt.question_ids[0]
    answer = services.attempt_answer_check(user=employee, attempt_id=attempt.pk, question_id=str(first),
                                           values=response_for(attempt, first, right=False))
    assert answer.fraction == 0.0
    with pytest.raises(ValidationError, match="already been answered"):
        services.attempt_answer_check(user=employee, attempt_id=attempt.pk, question_id=str(first),
                                      values=response_for(attempt, first, right=True))
    # Sending the right answer at submit time cannot overwrite the checked one.
    attempt = services.attempt_submit(user=employee, attempt_id=attempt.pk, responses=responses(attempt))
    assert attempt.results[str(first)] == 0.0
    assert 0 < attempt.score < 100


def test_prerequisites_lock_and_unlock(employee):
    course = make_course(lessons=2)
    outline = course_outline(course=course, user=employee)
    first, quiz1, second = outline.items[0], outline.items[1], outline.items[2]
    assert not first.locked and quiz1.locked and second.locked
    assert [i.slug for i in quiz1.locked_by] == [first.slug]
    services.lesson_complete(user=employee, lesson=first.obj)
    outline = course_outline(course=course, user=employee)
    assert not outline.items[1].locked and not outline.items[2].locked
    assert outline.resume_item.slug == quiz1.slug


def test_completing_everything_issues_one_certificate(employee):
    course = make_course(lessons=2, exam=True)
    for lesson in Lesson.objects.filter(course=course):
        services.lesson_complete(user=employee, lesson=lesson)
    quizzes = list(Quiz.objects.filter(course=course))
    for quiz in quizzes[:-1]:
        unlock(employee, quiz)
        attempt = services.attempt_start(user=employee, quiz=quiz)
        services.attempt_submit(user=employee, attempt_id=attempt.pk, responses=responses(attempt))
    assert not Certificate.objects.exists()
    unlock(employee, quizzes[-1])
    attempt = services.attempt_start(user=employee, quiz=quizzes[-1])
    services.attempt_submit(user=employee, attempt_id=attempt.pk, responses=responses(attempt))
    certificate = Certificate.objects.get()
    assert certificate.user == employee and certificate.course == course and len(certificate.code) >= 20
    assert Enrollment.objects.get(user=employee, course=course).completed_at is not None
    assert services.certificate_issue_if_complete(user=employee, course=course) == certificate


def test_unpublished_items_do_not_block_completion(employee):
    course = make_course(lessons=1, quizzes=False)
    Lesson.objects.create(course=course, module=course.modules.get(), slug="draft", published=False)
    services.lesson_complete(user=employee, lesson=course.lessons.get(slug="m1-l1"))
    assert Certificate.objects.filter(user=employee).exists()


# --- Bad input ------------------------------------------------------------------


@pytest.fixture
def open_attempt(employee):
    course = make_course(lessons=1)
    quiz = Quiz.objects.get(course=course)
    unlock(employee, quiz)
    return services.attempt_start(user=employee, quiz=quiz)


def _nothing_recorded(attempt):
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.IN_PROGRESS and attempt.score is None and attempt.responses == {}
    assert not AttemptAnswer.objects.filter(attempt=attempt).exists()


def test_tampered_choice_id_is_rejected(employee, open_attempt):
    sent = responses(open_attempt)
    single = next(qid for qid in open_attempt.question_ids if Question.objects.get(pk=qid).type == "single")
    real_choice_id = open_attempt.choice_keys[str(single)][0][1]
    for forged in (str(real_choice_id), "not-a-key", open_attempt.choice_keys[str(single)][0][0] + "x"):
        sent[str(single)] = [forged]
        with pytest.raises(ValidationError, match="not part of this attempt"):
            services.attempt_submit(user=employee, attempt_id=open_attempt.pk, responses=sent)
    # A key from another question of the same attempt is forged too.
    other = next(qid for qid in open_attempt.question_ids if Question.objects.get(pk=qid).type == "multiple")
    sent[str(single)] = [open_attempt.choice_keys[str(other)][0][0]]
    with pytest.raises(ValidationError):
        services.attempt_submit(user=employee, attempt_id=open_attempt.pk, responses=sent)
    with pytest.raises(ValidationError, match="not part of this attempt"):
        services.attempt_answer_check(user=employee, attempt_id=open_attempt.pk, question_id=str(single),
                                      values=["forged"])
    _nothing_recorded(open_attempt)


def test_two_answers_to_single_choice_are_rejected(employee, open_attempt):
    sent = responses(open_attempt)
    single = next(qid for qid in open_attempt.question_ids if Question.objects.get(pk=qid).type == "single")
    sent[str(single)] = [k for k, _ in open_attempt.choice_keys[str(single)][:2]]
    with pytest.raises(ValidationError, match="one answer"):
        services.attempt_submit(user=employee, attempt_id=open_attempt.pk, responses=sent)
    _nothing_recorded(open_attempt)


def test_answers_to_questions_outside_the_attempt_are_rejected(employee, open_attempt):
    outsider = Question.objects.exclude(pk__in=open_attempt.question_ids).first()
    outsider = outsider or Question.objects.create(quiz=open_attempt.quiz, slug="extra", type="text")
    for stray in (str(outsider.pk), "abc", "-1"):
        sent = responses(open_attempt) | {stray: ["x"]}
        with pytest.raises(ValidationError, match="not part of this attempt"):
            services.attempt_submit(user=employee, attempt_id=open_attempt.pk, responses=sent)
    with pytest.raises(ValidationError, match="not part of this attempt"):
        services.attempt_answer_check(user=employee, attempt_id=open_attempt.pk, question_id=str(outsider.pk),
                                      values=["x"])
    _nothing_recorded(open_attempt)


def test_non_numeric_answer_is_rejected(employee, open_attempt):
    numeric = next(qid for qid in open_attempt.question_ids if Question.objects.get(pk=qid).type == "numeric")
    for bad in ("sixty-four", "nan", "inf"):
        with pytest.raises(ValidationError, match="not a number"):
            services.attempt_submit(user=employee, attempt_id=open_attempt.pk,
                                    responses=responses(open_attempt) | {str(numeric): [bad]})
    _nothing_recorded(open_attempt)


def test_resubmitting_an_attempt_is_rejected(employee, open_attempt):
    done = services.attempt_submit(user=employee, attempt_id=open_attempt.pk, responses=responses(open_attempt))
    assert done.score == 100.0
    with pytest.raises(ValidationError, match="already been submitted") as exc:
        services.attempt_submit(user=employee, attempt_id=open_attempt.pk, responses=responses(open_attempt, wrong=4))
    assert exc.value.code == "submitted"
    open_attempt.refresh_from_db()
    assert open_attempt.score == 100.0 and open_attempt.submitted_at == done.submitted_at


def test_someone_elses_attempt_cannot_be_submitted(employee, open_attempt, manager):
    with pytest.raises(ValidationError, match="No such attempt"):
        services.attempt_submit(user=manager, attempt_id=open_attempt.pk, responses=responses(open_attempt))
    _nothing_recorded(open_attempt)


def test_attempt_limit(employee):
    course = make_course(lessons=1)
    quiz = Quiz.objects.get(course=course)
    quiz.max_attempts = 2
    quiz.save()
    unlock(employee, quiz)
    for _ in range(2):
        attempt = services.attempt_start(user=employee, quiz=quiz)
        services.attempt_submit(user=employee, attempt_id=attempt.pk, responses=responses(attempt, wrong=4))
    with pytest.raises(ValidationError, match="all 2 attempts"):
        services.attempt_start(user=employee, quiz=quiz)
    assert Attempt.objects.filter(user=employee, quiz=quiz).count() == 2


def test_submit_beyond_a_lowered_limit_is_rejected(employee):
    course = make_course(lessons=1)
    quiz = Quiz.objects.get(course=course)
    unlock(employee, quiz)
    first = services.attempt_start(user=employee, quiz=quiz)
    services.attempt_submit(user=employee, attempt_id=first.pk, responses=responses(first, wrong=4))
    second = services.attempt_start(user=employee, quiz=quiz)
    Quiz.objects.filter(pk=quiz.pk).update(max_attempts=1)  # an admin lowers the limit meanwhile
    with pytest.raises(ValidationError, match="beyond the quiz's attempt limit"):
        services.attempt_submit(user=employee, attempt_id=second.pk, responses=responses(second))
    _nothing_recorded(second)


def test_starting_twice_resumes_the_open_attempt(employee, open_attempt):
    assert services.attempt_start(user=employee, quiz=open_attempt.quiz).pk == open_attempt.pk


def test_seed_demo_loads_the_builtin_course():
    from django.core.management import call_command

    call_command("seed_demo", stdout=io.StringIO())
    assert Course.objects.get(slug="how-llms-work").lessons.count() == 17


def test_lesson_visit_records_the_resume_point_at_once_and_reloads_within_a_minute_write_nothing(employee):
    course = make_course(lessons=2, quizzes=False)
    first, second = course.lessons.order_by("position")
    services.lesson_visit(user=employee, lesson=first)
    seen = LessonProgress.objects.get(user=employee, lesson=first).last_viewed_at
    services.lesson_visit(user=employee, lesson=first)  # a reload
    assert LessonProgress.objects.get(user=employee, lesson=first).last_viewed_at == seen
    services.lesson_visit(user=employee, lesson=second)  # the resume point moves at once
    assert Enrollment.objects.get(user=employee, course=course).last_lesson == second
    LessonProgress.objects.filter(lesson=first).update(last_viewed_at=seen - services.VISIT_RESOLUTION)
    services.lesson_visit(user=employee, lesson=first)  # a visit after the resolution is recorded
    progress = LessonProgress.objects.get(user=employee, lesson=first)
    assert progress.last_viewed_at > seen and progress.first_viewed_at <= seen
    assert Enrollment.objects.get(user=employee, course=course).last_lesson == first
    assert LessonProgress.objects.filter(user=employee).count() == 2


def test_a_locked_lesson_or_quiz_is_refused_when_called_directly(employee):
    course = make_course(lessons=2)
    second = course.lessons.get(slug="m1-l2")
    quiz = Quiz.objects.get(course=course, slug="m1-l1-quiz")
    with pytest.raises(ValidationError, match="This lesson is locked."):
        services.lesson_complete(user=employee, lesson=second)
    with pytest.raises(ValidationError, match="This quiz is locked."):
        services.attempt_start(user=employee, quiz=quiz)
    assert not LessonProgress.objects.filter(user=employee).exists()
    assert not Attempt.objects.filter(user=employee).exists()
    services.lesson_complete(user=employee, lesson=course.lessons.get(slug="m1-l1"))
    assert services.attempt_start(user=employee, quiz=quiz).number == 1


def test_an_admin_previewing_a_course_is_never_locked(admin_user):
    course = make_course(lessons=2)
    assert services.lesson_complete(user=admin_user, lesson=course.lessons.get(slug="m1-l2")).completed_at
