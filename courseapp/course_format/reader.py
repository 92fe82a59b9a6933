"""Read and validate a course folder into a CourseSpec.

`read_course_folder` collects every problem it finds, each naming its file and line,
and raises them together (FolderError); authoring.course_import then writes the spec
in one transaction."""

from __future__ import annotations

from pathlib import Path

from core.encoding import NotUTF8, utf8_text

from ..models import LabMetric
from .checks import FieldReader, LineDict
from .spec import (
    FIGURE_SUFFIXES,
    LANGS,
    LESSON_FILES,
    QUESTION_TYPES,
    RESERVED_SLUGS,
    ChoiceSpec,
    CourseSpec,
    FolderError,
    LessonSpec,
    ModuleSpec,
    QuestionSpec,
    QuizSpec,
    lesson_figure_base,
)


def read_course_folder(folder: Path | str) -> CourseSpec:
    """Read and validate a course folder; raises FolderError listing every problem."""
    root = Path(folder)
    reader = FieldReader(root)
    if not root.is_dir():
        raise FolderError([f"{root}: not a folder"])
    course_path = root / "course.yaml"
    data = reader.load_yaml(course_path)
    if data is None:
        raise FolderError(reader.errors)
    reader.keys(course_path, data, required={"slug", "title", "summary", "published", "modules"},
                optional={"exams"})
    course = CourseSpec(
        slug=reader.slug(course_path, data),
        title=reader.text(course_path, data, "title"),
        summary=reader.text(course_path, data, "summary"),
        published=reader.boolean(course_path, data, "published"),
        modules=[],
        exams=[],
    )
    if course.slug in RESERVED_SLUGS:
        reader.error(course_path, reader.line(data, "slug"), f"'{course.slug}' is reserved; choose another slug")
    claims = _Claims(reader)
    course.modules = _read_modules(reader, root, data, course.slug, claims)
    course.exams = _read_exams(reader, root, data, claims)
    # Prerequisites must name lessons or quizzes of this course.
    for item, path in _items_with_paths(course, root):
        for prereq in item.prerequisites:
            if prereq not in claims.seen:
                reader.error(path, item.prerequisites_line,
                             f"prerequisite '{prereq}' is not a lesson or quiz of this course")
            if prereq == item.slug:
                reader.error(path, item.prerequisites_line, "an item cannot be its own prerequisite")
    if reader.errors:
        raise FolderError(reader.errors)
    return course


class _Claims:
    """Lesson and quiz slugs share one namespace (prerequisites name either)."""

    def __init__(self, reader: FieldReader):
        self.reader = reader
        self.seen: dict[str, str] = {}

    def claim(self, slug: str, path: Path, line: int):
        if slug in self.seen:
            self.reader.error(path, line, f"slug '{slug}' is already used by {self.seen[slug]}")
        self.seen[slug] = self.reader.rel(path)


def _read_modules(reader: FieldReader, root: Path, data: LineDict, course_slug: str, claims: _Claims) -> list[ModuleSpec]:
    course_path = root / "course.yaml"
    modules_data = data.get("modules")
    if not isinstance(modules_data, list) or not modules_data:
        reader.error(course_path, reader.line(data, "modules"), "'modules' must be a non-empty list")
        modules_data = []
    modules, module_slugs = [], set()
    for module_data in modules_data:
        if not isinstance(module_data, LineDict):
            reader.error(course_path, reader.line(data, "modules"), "each module must be a mapping")
            continue
        reader.keys(course_path, module_data, required={"slug", "title", "lessons"})
        module = ModuleSpec(slug=reader.slug(course_path, module_data),
                            title=reader.text(course_path, module_data, "title"), lessons=[])
        if module.slug in module_slugs:
            reader.error(course_path, module_data.line, f"module slug '{module.slug}' is used twice")
        module_slugs.add(module.slug)
        for lesson_slug in reader.slug_list(course_path, module_data, "lessons"):
            lesson_dir = root / "lessons" / lesson_slug
            lesson = _read_lesson(reader, lesson_dir, lesson_slug, course_slug)
            if lesson is None:
                reader.error(course_path, reader.line(module_data, "lessons"),
                             f"lesson folder 'lessons/{lesson_slug}' is missing")
                continue
            claims.claim(lesson.slug, lesson_dir / "lesson.yaml", 1)
            if lesson.quiz:
                claims.claim(lesson.quiz.slug, lesson_dir / "quiz.yaml", 1)
            module.lessons.append(lesson)
        modules.append(module)
    return modules


def _read_exams(reader: FieldReader, root: Path, data: LineDict, claims: _Claims) -> list[QuizSpec]:
    exams = []
    for exam_slug in reader.slug_list(root / "course.yaml", data, "exams"):
        exam_path = root / "exams" / f"{exam_slug}.yaml"
        exam = _read_quiz(reader, exam_path)
        if exam is not None:
            if exam.slug != exam_slug:
                reader.error(exam_path, 1, f"slug '{exam.slug}' must match the file name '{exam_slug}'")
            claims.claim(exam.slug, exam_path, 1)
            exams.append(exam)
    return exams


def _items_with_paths(course: CourseSpec, root: Path):
    for lesson in course.lessons():
        yield lesson, root / "lessons" / lesson.slug / "lesson.yaml"
        if lesson.quiz:
            yield lesson.quiz, root / "lessons" / lesson.slug / "quiz.yaml"
    for exam in course.exams:
        yield exam, root / "exams" / f"{exam.slug}.yaml"


def _read_lesson(reader: FieldReader, folder: Path, slug: str, course_slug: str) -> LessonSpec | None:
    if not folder.is_dir():
        return None
    path = folder / "lesson.yaml"
    data = reader.load_yaml(path)
    if data is None:  # already an error: a stub, so that the rest of the folder is still checked
        return LessonSpec(slug=slug, title={}, duration_minutes=0, published=False, prerequisites=[], body={})
    reader.keys(path, data, required={"slug", "title", "duration_minutes", "published"},
                optional={"prerequisites"})
    lesson = LessonSpec(
        slug=reader.slug(path, data),
        title=reader.text(path, data, "title"),
        duration_minutes=reader.integer(path, data, "duration_minutes", low=1, high=1000),
        published=reader.boolean(path, data, "published"),
        prerequisites=reader.slug_list(path, data, "prerequisites"),
        prerequisites_line=reader.line(data, "prerequisites"),
        body={},
    )
    if lesson.slug != slug:
        reader.error(path, reader.line(data, "slug"), f"slug '{lesson.slug}' must match the folder name '{slug}'")
    for lang in LANGS:
        lesson.body[lang], lesson.body_html[lang] = _read_body(reader, folder / f"{lang}.md", lang,
                                                               lesson_figure_base(course_slug, slug))
    lesson.figures = _read_figures(reader, folder)
    if (folder / "quiz.yaml").exists():
        lesson.quiz = _read_quiz(reader, folder / "quiz.yaml")
    return lesson


def _read_body(reader: FieldReader, md_path: Path, lang: str, figure_base: str) -> tuple[str, str]:
    if not md_path.is_file():
        reader.error(md_path, 0, "file is missing")
        return "", ""
    try:
        source = utf8_text(md_path.read_bytes())
    except NotUTF8 as exc:
        reader.error(md_path, exc.line, str(exc))
        source = ""
    return source, reader.markdown(md_path, 0, source, lang=lang, figure_base=figure_base, drop_title=True)


def _read_figures(reader: FieldReader, folder: Path) -> dict[str, bytes]:
    figures = {}
    for file in sorted(folder.rglob("*")):
        if not file.is_file():
            continue
        name = file.relative_to(folder).as_posix()
        if name in LESSON_FILES:
            continue
        if file.suffix.lower() in FIGURE_SUFFIXES:
            figures[name] = file.read_bytes()
        else:
            reader.error(file, 0, "unexpected file: a lesson folder holds lesson.yaml, en.md, zh-Hans.md, "
                                  "quiz.yaml and figures (" + ", ".join(sorted(FIGURE_SUFFIXES)) + ")")
    return figures


def _read_quiz(reader: FieldReader, path: Path) -> QuizSpec | None:
    data = reader.load_yaml(path)
    if data is None:
        return None
    reader.keys(path, data, required={"slug", "title", "pass_mark", "max_attempts", "questions_per_attempt",
                                      "published", "questions"}, optional={"prerequisites"})
    quiz = QuizSpec(
        slug=reader.slug(path, data),
        title=reader.text(path, data, "title"),
        pass_mark=reader.integer(path, data, "pass_mark", low=0, high=100),
        max_attempts=reader.integer(path, data, "max_attempts", low=0),
        questions_per_attempt=reader.integer(path, data, "questions_per_attempt", low=1),
        published=reader.boolean(path, data, "published"),
        prerequisites=reader.slug_list(path, data, "prerequisites"),
        prerequisites_line=reader.line(data, "prerequisites"),
        questions=[],
    )
    questions = data.get("questions")
    if not isinstance(questions, list) or not questions:
        reader.error(path, reader.line(data, "questions"), "'questions' must be a non-empty list")
        questions = []
    slugs = set()
    for q in questions:
        if not isinstance(q, LineDict):
            reader.error(path, reader.line(data, "questions"), "each question must be a mapping")
            continue
        question = _read_question(reader, path, q)
        if question.slug in slugs:
            reader.error(path, q.line, f"question slug '{question.slug}' is used twice")
        slugs.add(question.slug)
        quiz.questions.append(question)
    per_attempt_line = reader.line(data, "questions_per_attempt")
    if questions and quiz.questions_per_attempt > len(questions):
        reader.error(path, per_attempt_line, f"'questions_per_attempt' ({quiz.questions_per_attempt}) exceeds "
                                             f"the pool of {len(questions)} questions")
    pinned = [q.slug for q in quiz.questions if q.pinned and q.published]
    if len(pinned) > quiz.questions_per_attempt:
        reader.error(path, per_attempt_line,
                     f"{len(pinned)} questions are pinned ({', '.join(pinned)}) but an attempt draws only "
                     f"{quiz.questions_per_attempt} ('questions_per_attempt'): pin fewer or draw more")
    return quiz


_TYPE_KEYS = {"single": {"choices"}, "multiple": {"choices"}, "numeric": {"answer", "tolerance"},
              "text": {"accepted"}, "lab": {"metric", "tolerance"}}


def _read_question(reader: FieldReader, path: Path, q: LineDict) -> QuestionSpec:
    qtype = q.get("type")
    extra = _TYPE_KEYS.get(qtype, set())
    if qtype not in QUESTION_TYPES:
        reader.error(path, reader.line(q, "type"), f"'type' must be one of {', '.join(QUESTION_TYPES)}")
    reader.keys(path, q, required={"slug", "type", "prompt", "explanation"} | (extra - {"tolerance"}),
                optional={"points", "published", "pinned", "tolerance"})
    question = QuestionSpec(
        slug=reader.slug(path, q),
        type=qtype,
        points=reader.integer(path, q, "points", low=1) if "points" in q else 1,
        published=reader.boolean(path, q, "published", default=True),
        pinned=reader.boolean(path, q, "pinned", default=False),
        prompt=reader.text(path, q, "prompt"),
        explanation=reader.text(path, q, "explanation"),
    )
    question.prompt_html = {lang: reader.markdown(path, reader.line(q, "prompt"), question.prompt[lang], lang=lang)
                            for lang in LANGS}
    question.explanation_html = {
        lang: reader.markdown(path, reader.line(q, "explanation"), question.explanation[lang], lang=lang)
        for lang in LANGS}
    if qtype in ("single", "multiple"):
        _read_choices(reader, path, q, question)
    elif qtype in ("numeric", "lab"):
        _read_numeric(reader, path, q, question)
    elif qtype == "text":
        _read_accepted(reader, path, q, question)
    return question


def _read_choices(reader: FieldReader, path: Path, q: LineDict, question: QuestionSpec):
    choices = q.get("choices")
    if not isinstance(choices, list) or len(choices) < 2:
        reader.error(path, reader.line(q, "choices"), "'choices' must list at least two choices")
        choices = []
    for c in choices:
        if not isinstance(c, LineDict):
            reader.error(path, reader.line(q, "choices"), "each choice must be a mapping")
            continue
        reader.keys(path, c, required={"text", "correct", "explanation"})
        question.choices.append(ChoiceSpec(text=reader.text(path, c, "text"),
                                           correct=reader.boolean(path, c, "correct"),
                                           explanation=reader.text(path, c, "explanation")))
    n_correct = sum(c.correct for c in question.choices)
    if choices and question.type == "single" and n_correct != 1:
        reader.error(path, reader.line(q, "choices"),
                     f"single-choice question '{question.slug}' needs exactly one correct choice")
    if choices and question.type == "multiple" and n_correct < 1:
        reader.error(path, reader.line(q, "choices"),
                     f"multiple-choice question '{question.slug}' needs a correct choice")


def _read_numeric(reader: FieldReader, path: Path, q: LineDict, question: QuestionSpec):
    """A numeric question's answer, or a lab question's metric; both have a tolerance."""
    if question.type == "numeric":
        question.answer = reader.number(path, q, "answer")
    elif q.get("metric") in LabMetric.values:
        question.lab_metric = q["metric"]
    elif "metric" in q:
        reader.error(path, reader.line(q, "metric"), f"'metric' must be one of {', '.join(LabMetric.values)}")
    question.tolerance = reader.number(path, q, "tolerance", default=0.0)
    if question.tolerance < 0:
        reader.error(path, reader.line(q, "tolerance"), "'tolerance' cannot be negative")


def _read_accepted(reader: FieldReader, path: Path, q: LineDict, question: QuestionSpec):
    accepted = q.get("accepted")
    if not isinstance(accepted, dict) or set(accepted) - set(LANGS) or not all(
        isinstance(v, list) and all(isinstance(s, str) and s.strip() for s in v) for v in accepted.values()
    ) or not accepted.get("en"):
        reader.error(path, reader.line(q, "accepted"),
                     "'accepted' must map en (and zh-Hans) to non-empty lists of answers")
    else:
        question.accepted = {lang: list(accepted.get(lang, [])) for lang in LANGS}
