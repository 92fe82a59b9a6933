"""Writes by course authors (admins): import and export of course folders, and the
authoring pages' create, update, move and publish. Learner actions are in services.py."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import SYSTEM, Origin, audit_record

from . import authoring_selectors, selectors
from .course_format.reader import read_course_folder
from .course_format.spec import ChoiceSpec, QuizSpec, guess_content_type, lesson_figure_base
from .course_format.writer import write_course_folder
from .models import Choice, Course, Lesson, LessonFigure, Module, Question, Quiz
from .services import save_validated as _save

# --- Import, export --------------------------------------------------------------


def _upsert(model, lookup: dict, values: dict):
    obj = model.objects.filter(**lookup).first() or model(**lookup)
    for name, value in values.items():
        setattr(obj, name, value)
    return _save(obj)


def _choices_replace(question: Question, choices: list[ChoiceSpec]) -> None:
    """Replace a question's choices. They are matched by position, so past attempts
    keep pointing at them."""
    existing = list(question.choices.all())
    for position, spec in enumerate(choices):
        choice = existing[position] if position < len(existing) else Choice(question=question)
        choice.text, choice.correct, choice.explanation, choice.position = (
            spec.text, spec.correct, spec.explanation, position)
        _save(choice)
    Choice.objects.filter(pk__in=[c.pk for c in existing[len(choices):]]).delete()


def _quiz_write(*, course: Course, lesson: Lesson | None, spec: QuizSpec, position: int) -> Quiz:
    quiz = _upsert(Quiz, {"course": course, "slug": spec.slug}, {
        "lesson": lesson,
        "title": spec.title,
        "pass_mark": spec.pass_mark,
        "max_attempts": spec.max_attempts,
        "questions_per_attempt": spec.questions_per_attempt,
        "published": spec.published,
        "prerequisites": spec.prerequisites,
        "position": position,
    })
    keep = []
    for q_pos, q in enumerate(spec.questions):
        question = _upsert(Question, {"quiz": quiz, "slug": q.slug}, {
            "type": q.type,
            "points": q.points,
            "published": q.published,
            "pinned": q.pinned,
            "lab_metric": q.lab_metric,
            "prompt": q.prompt,
            "prompt_html": q.prompt_html,
            "explanation": q.explanation,
            "explanation_html": q.explanation_html,
            "answer": q.answer,
            "tolerance": q.tolerance,
            "accepted": q.accepted,
            "position": q_pos,
        })
        keep.append(question.pk)
        _choices_replace(question, q.choices)
    quiz.questions.exclude(pk__in=keep).delete()
    return quiz


@transaction.atomic
def course_import(*, folder: Path | str, origin: Origin = SYSTEM) -> Course:
    """Create or update a course from a folder. Validates everything before writing
    anything; raises course_format.spec.FolderError (every problem, with file and line).
    The import publishes a version of the course: one audit entry says which."""
    spec = read_course_folder(folder)
    course = _upsert(Course, {"slug": spec.slug}, {
        "title": spec.title, "summary": spec.summary, "published": spec.published})
    keep_modules, keep_lessons, keep_quizzes = [], [], []
    for m_pos, m in enumerate(spec.modules):
        module = _upsert(Module, {"course": course, "slug": m.slug}, {"title": m.title, "position": m_pos})
        keep_modules.append(module.pk)
        for l_pos, spec_lesson in enumerate(m.lessons):
            lesson = _upsert(Lesson, {"course": course, "slug": spec_lesson.slug}, {
                "module": module,
                "title": spec_lesson.title,
                "body": spec_lesson.body,
                "body_html": spec_lesson.body_html,
                "duration_minutes": spec_lesson.duration_minutes,
                "published": spec_lesson.published,
                "prerequisites": spec_lesson.prerequisites,
                "position": l_pos,
            })
            keep_lessons.append(lesson.pk)
            lesson.figures.exclude(name__in=list(spec_lesson.figures)).delete()
            for name, data in spec_lesson.figures.items():
                _upsert(LessonFigure, {"lesson": lesson, "name": name},
                        {"data": data, "content_type": guess_content_type(name)})
            if spec_lesson.quiz:
                keep_quizzes.append(_quiz_write(course=course, lesson=lesson, spec=spec_lesson.quiz, position=0).pk)
    for e_pos, exam in enumerate(spec.exams):
        keep_quizzes.append(_quiz_write(course=course, lesson=None, spec=exam, position=e_pos).pk)
    course.quizzes.exclude(pk__in=keep_quizzes).delete()
    course.lessons.exclude(pk__in=keep_lessons).delete()
    course.modules.exclude(pk__in=keep_modules).delete()
    audit_record(action="course.imported", origin=origin, target=course,
                 after={"published": course.published, **_version(course.pk)})
    return course


def _version(course_id: int) -> dict:
    """The course content's version (its updated_at, see selectors.course_content), which
    the AI-literacy record names as the version a learner took."""
    return {"course_id": course_id,
            "course_version": Course.objects.values_list("updated_at", flat=True).get(pk=course_id).isoformat()}


def course_export(*, course: Course, folder: Path | str) -> Path:
    return write_course_folder(authoring_selectors.course_spec(course=course), folder)


# --- Authoring pages ------------------------------------------------------------


def _render_field(source: dict, *, figure_base: str = "", drop_title: bool = False, field: str) -> dict:
    from .rendering import MarkdownError, render_markdown

    rendered = {}
    for lang, text in source.items():
        try:
            rendered[lang] = render_markdown(text, lang=lang, figure_base=figure_base, drop_title=drop_title)
        except MarkdownError as exc:
            raise ValidationError({field: f"{lang}, line {exc.line}: {exc.message}"}) from exc
    return rendered


def _check_prerequisites(*, course: Course, slugs: list[str], own_slug: str):
    known = set(Lesson.objects.filter(course=course).values_list("slug", flat=True))
    known |= set(Quiz.objects.filter(course=course).values_list("slug", flat=True))
    unknown = [s for s in slugs if s not in known or s == own_slug]
    if unknown:
        raise ValidationError({"prerequisites": _("Not a lesson or quiz of this course: %(slugs)s")
                               % {"slugs": ", ".join(unknown)}})


def _next_position(qs) -> int:
    return (qs.aggregate(m=Max("position"))["m"] or 0) + 1


def course_create(*, slug: str, title: dict) -> Course:
    return _save(Course(slug=slug, title=title, summary={"en": "", "zh-Hans": ""},
                        position=_next_position(Course.objects.all())))


def course_update(*, course: Course, title: dict, summary: dict) -> Course:
    course.title, course.summary = title, summary
    return _save(course)


def module_create(*, course: Course, slug: str, title: dict) -> Module:
    return _save(Module(course=course, slug=slug, title=title, position=_next_position(course.modules.all())))


def module_update(*, module: Module, title: dict) -> Module:
    module.title = title
    return _save(module)


def lesson_create(*, module: Module, slug: str, title: dict) -> Lesson:
    """A new draft lesson at the end of its module; it requires the lesson before it."""
    previous = Lesson.objects.filter(course=module.course).order_by("-module__position", "-position").first()
    lesson = Lesson(course=module.course, module=module, slug=slug, title=title, published=False,
                    body={"en": "", "zh-Hans": ""}, prerequisites=[previous.slug] if previous else [],
                    position=_next_position(module.lessons.all()))
    return _save(lesson)


def lesson_update(*, lesson: Lesson, title: dict, body: dict, duration_minutes: int,
                  prerequisites: list[str]) -> Lesson:
    _check_prerequisites(course=lesson.course, slugs=prerequisites, own_slug=lesson.slug)
    lesson.title, lesson.body, lesson.duration_minutes, lesson.prerequisites = (
        title, body, duration_minutes, prerequisites)
    lesson.body_html = _render_field(body, figure_base=lesson_figure_base(lesson.course.slug, lesson.slug),
                                     drop_title=True, field="body")
    return _save(lesson)


def quiz_create(*, course: Course, slug: str, title: dict, lesson: Lesson | None = None) -> Quiz:
    if lesson is not None and Quiz.objects.filter(lesson=lesson).exists():
        raise ValidationError(_("This lesson already has a quiz."))
    siblings = Quiz.objects.filter(course=course, lesson__isnull=True)
    return _save(Quiz(course=course, lesson=lesson, slug=slug, title=title, published=False,
                      prerequisites=[lesson.slug] if lesson else [],
                      position=0 if lesson else _next_position(siblings)))


def quiz_update(*, quiz: Quiz, title: dict, pass_mark: int, max_attempts: int, questions_per_attempt: int,
                prerequisites: list[str]) -> Quiz:
    _check_prerequisites(course=quiz.course, slugs=prerequisites, own_slug=quiz.slug)
    pinned = quiz.questions.filter(pinned=True).count()
    if questions_per_attempt < pinned:
        raise ValidationError({"questions_per_attempt": _("%(n)d questions are pinned: an attempt must draw at "
                                                          "least that many.") % {"n": pinned}})
    quiz.title, quiz.pass_mark, quiz.max_attempts, quiz.questions_per_attempt, quiz.prerequisites = (
        title, pass_mark, max_attempts, questions_per_attempt, prerequisites)
    return _save(quiz)


def question_create(*, quiz: Quiz, slug: str, type: str) -> Question:  # noqa: A002  (the format's name)
    question = Question(quiz=quiz, slug=slug, type=type, prompt={"en": "", "zh-Hans": ""},
                        position=_next_position(quiz.questions.all()))
    question.full_clean(exclude=["prompt", "explanation"])
    question.save()
    return question


@transaction.atomic
def question_update(*, question: Question, prompt: dict, explanation: dict, points: int, pinned: bool = False,
                    answer: float | None = None, tolerance: float = 0.0, accepted: dict | None = None,
                    choices: list[dict] | None = None, lab_metric: str = "") -> Question:
    """Update a question; for choice questions `choices` replaces the list (matched
    by position, so past attempts keep their choices)."""
    if pinned and not question.pinned:
        quiz = question.quiz
        if quiz.questions.filter(pinned=True).exclude(pk=question.pk).count() >= quiz.questions_per_attempt:
            raise ValidationError({"pinned": _("An attempt draws %(n)d questions and %(n)d are pinned already: "
                                              "unpin one or draw more per attempt.")
                                   % {"n": quiz.questions_per_attempt}})
    question.prompt, question.explanation, question.points, question.pinned = prompt, explanation, points, pinned
    question.prompt_html = _render_field(prompt, field="prompt")
    question.explanation_html = _render_field(explanation, field="explanation")
    if question.type == "numeric":
        if answer is None:
            raise ValidationError({"answer": _("A numeric question needs an answer.")})
        question.answer, question.tolerance = answer, tolerance
    if question.type == "lab":
        if not lab_metric:
            raise ValidationError({"lab_metric": _("A lab question needs the value it asks for.")})
        question.lab_metric, question.tolerance = lab_metric, tolerance
    if question.type == "text":
        if not accepted or not accepted.get("en"):
            raise ValidationError({"accepted": _("List at least one accepted English answer.")})
        question.accepted = accepted
    _save(question)
    if question.type in ("single", "multiple"):
        choices = choices or []
        correct = sum(c["correct"] for c in choices)
        if len(choices) < 2:
            raise ValidationError(_("A choice question needs at least two choices."))
        if question.type == "single" and correct != 1:
            raise ValidationError(_("A single-choice question needs exactly one correct choice."))
        if question.type == "multiple" and correct < 1:
            raise ValidationError(_("Mark at least one choice correct."))
        _choices_replace(question, [ChoiceSpec(text=c["text"], correct=c["correct"], explanation=c["explanation"])
                                    for c in choices])
    return question


def course_touch(*, course_id: int) -> None:
    """Mark a course's content changed: its cached outline and lesson bodies are keyed by
    updated_at (selectors.course_content), so every process reads the edit next request."""
    Course.objects.filter(pk=course_id).update(updated_at=timezone.now())
    if settings.COURSE_ROW_CACHE_SECONDS:  # the cached row holds the old updated_at
        selectors.course_row_forget(slug=Course.objects.values_list("slug", flat=True).get(pk=course_id))


def _siblings(obj):
    if isinstance(obj, Course):
        return Course.objects.all()
    if isinstance(obj, Module):
        return Module.objects.filter(course_id=obj.course_id)
    if isinstance(obj, Lesson):
        return Lesson.objects.filter(module_id=obj.module_id)
    if isinstance(obj, Quiz):
        return Quiz.objects.filter(course_id=obj.course_id, lesson__isnull=True)
    return Question.objects.filter(quiz_id=obj.quiz_id)


@transaction.atomic
def item_move(*, obj, direction: str) -> None:
    """Move a course, module, lesson, exam or question one place up or down."""
    siblings = list(_siblings(obj).select_for_update().order_by("position", "id"))
    index = next(i for i, s in enumerate(siblings) if s.pk == obj.pk)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(siblings):
        siblings[index], siblings[other] = siblings[other], siblings[index]
    for position, sibling in enumerate(siblings):
        if sibling.position != position:
            type(sibling).objects.filter(pk=sibling.pk).update(position=position)
    if not isinstance(obj, Course | Question):  # a queryset update sends no post_save
        course_touch(course_id=obj.course_id)


@transaction.atomic
def item_set_published(*, obj, published: bool, origin: Origin = SYSTEM):
    """Publish or unpublish; a change leaves one audit entry naming the course version."""
    before = type(obj).objects.select_for_update().filter(pk=obj.pk).values_list("published", flat=True).first()
    obj.published = published
    obj = _save(obj)
    if before != published:
        course_id = obj.pk if isinstance(obj, Course) else (obj.quiz.course_id if isinstance(obj, Question)
                                                            else obj.course_id)
        audit_record(action=f"{obj._meta.model_name}.{'published' if published else 'unpublished'}",
                     origin=origin, target=obj, before={"published": before},
                     after={"published": published, **_version(course_id)})
    return obj
