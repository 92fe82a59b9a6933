"""The course folder format's data (docs/COURSE_FORMAT.md): typed specs that the reader
returns, the writer takes, and the authoring services import and export.

Texts are {language: text} mappings over LANGS. No database here."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field

LANGS = ("en", "zh-Hans")
QUESTION_TYPES = ("single", "multiple", "numeric", "text", "lab")
FIGURE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}
LESSON_FILES = {"lesson.yaml", "quiz.yaml", "en.md", "zh-Hans.md"}
# Course slugs that would shadow fixed URLs under /learn/.
RESERVED_SLUGS = {"me", "author", "attempts", "certificates"}


class FolderError(Exception):
    """Every problem found in a course folder, each as `file:line: message`."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class ChoiceSpec:
    text: dict
    correct: bool
    explanation: dict


@dataclass
class QuestionSpec:
    slug: str
    type: str  # one of QUESTION_TYPES
    prompt: dict
    explanation: dict
    points: int = 1
    published: bool = True
    pinned: bool = False  # drawn in every attempt
    lab_metric: str = ""  # lab questions: the value of the learner's fine-tune they ask for
    prompt_html: dict = field(default_factory=dict)  # filled by the reader
    explanation_html: dict = field(default_factory=dict)
    choices: list[ChoiceSpec] = field(default_factory=list)  # single and multiple
    answer: float | None = None  # numeric
    tolerance: float = 0.0  # numeric and lab
    accepted: dict = field(default_factory=dict)  # text: {language: [answers]}


@dataclass
class QuizSpec:
    slug: str
    title: dict
    pass_mark: int
    max_attempts: int  # 0: unlimited
    questions_per_attempt: int
    published: bool
    prerequisites: list[str]
    questions: list[QuestionSpec]
    prerequisites_line: int = field(default=0, compare=False)  # where the reader found them, for its errors


@dataclass
class LessonSpec:
    slug: str
    title: dict
    duration_minutes: int
    published: bool
    prerequisites: list[str]
    body: dict  # Markdown
    body_html: dict = field(default_factory=dict)  # filled by the reader
    figures: dict[str, bytes] = field(default_factory=dict)  # path inside the lesson folder → bytes
    quiz: QuizSpec | None = None
    prerequisites_line: int = field(default=0, compare=False)


@dataclass
class ModuleSpec:
    slug: str
    title: dict
    lessons: list[LessonSpec]


@dataclass
class CourseSpec:
    slug: str
    title: dict
    summary: dict
    published: bool
    modules: list[ModuleSpec]
    exams: list[QuizSpec]

    def lessons(self) -> list[LessonSpec]:
        return [lesson for module in self.modules for lesson in module.lessons]


def lesson_figure_base(course_slug: str, lesson_slug: str) -> str:
    return f"/learn/{course_slug}/lessons/{lesson_slug}/files/"


def guess_content_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
