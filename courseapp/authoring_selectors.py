"""Reads for the authoring pages and for export: any course, draft or published,
by id, and the whole course as a folder spec."""

from __future__ import annotations

from django.shortcuts import get_object_or_404

from core.errors import NotFound

from .course_format.spec import ChoiceSpec, CourseSpec, LessonSpec, ModuleSpec, QuestionSpec, QuizSpec
from .models import Course, Lesson, Module, Question, Quiz

KINDS = {"course": Course, "module": Module, "lesson": Lesson, "quiz": Quiz, "question": Question}


def course_list() -> list[Course]:
    return list(Course.objects.all())


def course_get(*, course_id: int) -> Course:
    return get_object_or_404(Course, pk=course_id)


def course_tree(*, course: Course) -> dict:
    """The course with its modules (their lessons and lesson quizzes) and its exams."""
    modules = list(course.modules.prefetch_related("lessons__quiz"))
    exams = list(Quiz.objects.filter(course=course, lesson__isnull=True).order_by("position", "id"))
    return {"course": course, "modules": modules, "exams": exams}


def module_get(*, module_id: int) -> Module:
    return get_object_or_404(Module.objects.select_related("course"), pk=module_id)


def lesson_get(*, lesson_id: int, course: Course | None = None) -> Lesson:
    lessons = Lesson.objects.select_related("course", "module")
    return get_object_or_404(lessons.filter(course=course) if course else lessons, pk=lesson_id)


def lesson_quiz(*, lesson: Lesson) -> Quiz | None:
    return Quiz.objects.filter(lesson=lesson).first()


def quiz_get(*, quiz_id: int) -> Quiz:
    return get_object_or_404(Quiz.objects.select_related("course", "lesson"), pk=quiz_id)


def quiz_questions(*, quiz: Quiz) -> list[Question]:
    return list(quiz.questions.all())


def question_get(*, question_id: int) -> Question:
    return get_object_or_404(Question.objects.select_related("quiz__course"), pk=question_id)


def item_get(*, kind: str, pk: int):
    """A course, module, lesson, quiz or question, by the kind named in the URL."""
    model = KINDS.get(kind)
    if model is None:
        raise NotFound
    return get_object_or_404(model, pk=pk)


def course_spec(*, course: Course) -> CourseSpec:
    """The whole course as a folder spec (see course_format), for export."""
    modules = list(course.modules.all())
    lessons = list(Lesson.objects.filter(course=course).prefetch_related("figures").order_by("position", "id"))
    quizzes = list(Quiz.objects.filter(course=course).order_by("position", "id"))
    questions = Question.objects.filter(quiz__course=course).prefetch_related("choices").order_by("position", "id")
    questions_by_quiz: dict[int, list[QuestionSpec]] = {}
    for q in questions:
        questions_by_quiz.setdefault(q.quiz_id, []).append(QuestionSpec(
            slug=q.slug, type=q.type, points=q.points, published=q.published, pinned=q.pinned,
            lab_metric=q.lab_metric, prompt=q.prompt, explanation=q.explanation, answer=q.answer,
            tolerance=q.tolerance, accepted=q.accepted,
            choices=[ChoiceSpec(text=c.text, correct=c.correct, explanation=c.explanation) for c in q.choices.all()],
        ))

    def quiz_spec(quiz: Quiz) -> QuizSpec:
        return QuizSpec(slug=quiz.slug, title=quiz.title, pass_mark=quiz.pass_mark, max_attempts=quiz.max_attempts,
                        questions_per_attempt=quiz.questions_per_attempt, published=quiz.published,
                        prerequisites=quiz.prerequisites, questions=questions_by_quiz.get(quiz.pk, []))

    quiz_by_lesson = {q.lesson_id: q for q in quizzes if q.lesson_id}

    def lesson_spec(lesson: Lesson) -> LessonSpec:
        quiz = quiz_by_lesson.get(lesson.pk)
        return LessonSpec(slug=lesson.slug, title=lesson.title, duration_minutes=lesson.duration_minutes,
                          published=lesson.published, prerequisites=lesson.prerequisites, body=lesson.body,
                          figures={f.name: bytes(f.data) for f in lesson.figures.all()},
                          quiz=quiz_spec(quiz) if quiz else None)

    return CourseSpec(
        slug=course.slug, title=course.title, summary=course.summary, published=course.published,
        modules=[ModuleSpec(slug=m.slug, title=m.title,
                            lessons=[lesson_spec(lesson) for lesson in lessons if lesson.module_id == m.pk])
                 for m in modules],
        exams=[quiz_spec(q) for q in quizzes if not q.lesson_id],
    )
