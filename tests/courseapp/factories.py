"""Course factories: build a course folder spec, write it out and import it through
the service, as an author would."""

import itertools
import tempfile

from courseapp.authoring import course_import
from courseapp.course_format.spec import ChoiceSpec, CourseSpec, LessonSpec, ModuleSpec, QuestionSpec, QuizSpec
from courseapp.course_format.writer import write_course_folder

_seq = itertools.count(1)


def text(en: str, zh: str | None = None) -> dict:
    return {"en": en, "zh-Hans": zh if zh is not None else f"{en}（中文）"}


def choice_question(slug: str, *, multiple: bool = False, published: bool = True) -> dict:
    return {
        "slug": slug, "type": "multiple" if multiple else "single", "points": 1, "published": published,
        "prompt": text(f"Prompt {slug}: which is right?"),
        "explanation": text(f"Because {slug}."),
        "answer": None, "tolerance": 0.0, "accepted": {},
        "choices": [
            {"text": text("Right A"), "correct": True, "explanation": text("A is right.")},
            {"text": text("Wrong B"), "correct": False, "explanation": text("B is wrong.")},
            {"text": text("Right C" if multiple else "Wrong C"), "correct": multiple,
             "explanation": text("C explained.")},
            {"text": text("Wrong D"), "correct": False, "explanation": text("D is wrong.")},
        ],
    }


def numeric_question(slug: str, answer: float = 64, tolerance: float = 0.5) -> dict:
    return {"slug": slug, "type": "numeric", "points": 2, "published": True, "prompt": text("How many?"),
            "explanation": text("Count them."), "answer": answer, "tolerance": tolerance, "accepted": {},
            "choices": []}


def text_question(slug: str) -> dict:
    return {"slug": slug, "type": "text", "points": 1, "published": True, "prompt": text("Name the function."),
            "explanation": text("It is softmax."), "answer": None, "tolerance": 0.0,
            "accepted": {"en": ["softmax", "soft max"], "zh-Hans": ["softmax", "软最大"]}, "choices": []}


def quiz_spec(slug: str, *, prerequisites=(), questions=None, per_attempt=None, max_attempts=3, pass_mark=70) -> dict:
    questions = questions if questions is not None else [
        choice_question(f"{slug}-q1"), choice_question(f"{slug}-q2", multiple=True),
        numeric_question(f"{slug}-q3"), text_question(f"{slug}-q4"),
    ]
    return {"slug": slug, "title": text(f"Quiz {slug}"), "pass_mark": pass_mark, "max_attempts": max_attempts,
            "questions_per_attempt": per_attempt or len(questions), "published": True,
            "prerequisites": list(prerequisites), "questions": questions}


def course_spec(*, slug: str | None = None, modules: int = 1, lessons: int = 2, quizzes: bool = True,
                exam: bool = False, body: str | None = None, published: bool = True) -> dict:
    slug = slug or f"course-{next(_seq)}"
    spec = {"slug": slug, "title": text(f"Course {slug}"), "summary": text("A test course."),
            "published": published, "modules": [], "exams": []}
    previous = None
    for m in range(modules):
        module = {"slug": f"m{m + 1}", "title": text(f"Module {m + 1}"), "lessons": []}
        for n in range(lessons):
            lesson_slug = f"m{m + 1}-l{n + 1}"
            lesson = {
                "slug": lesson_slug, "title": text(f"Lesson {lesson_slug}", f"第 {lesson_slug} 课"),
                "duration_minutes": 10, "published": True,
                "prerequisites": [previous] if previous else [],
                "body": {"en": body or f"# Lesson {lesson_slug}\n\nEnglish body with $x^2$ math.\n",
                         "zh-Hans": body or f"# 第 {lesson_slug} 课\n\n中文正文。\n"},
                "figures": {},
                "quiz": quiz_spec(f"{lesson_slug}-quiz", prerequisites=[lesson_slug]) if quizzes else None,
            }
            module["lessons"].append(lesson)
            previous = lesson_slug
        spec["modules"].append(module)
    if exam:
        spec["exams"].append(quiz_spec("final", prerequisites=[previous] if previous else []))
    return spec


def _quiz(d: dict) -> QuizSpec:
    questions = [QuestionSpec(**{k: v for k, v in q.items() if k != "choices"},
                              choices=[ChoiceSpec(**c) for c in q["choices"]]) for q in d["questions"]]
    return QuizSpec(**{k: v for k, v in d.items() if k != "questions"}, questions=questions)


def typed(spec: dict) -> CourseSpec:
    """The typed CourseSpec of a plain spec built (and edited) by the helpers above."""
    modules = [ModuleSpec(slug=m["slug"], title=m["title"], lessons=[
        LessonSpec(**{k: v for k, v in lesson.items() if k != "quiz"},
                   quiz=_quiz(lesson["quiz"]) if lesson["quiz"] else None) for lesson in m["lessons"]])
        for m in spec["modules"]]
    return CourseSpec(**{k: v for k, v in spec.items() if k not in ("modules", "exams")}, modules=modules,
                      exams=[_quiz(e) for e in spec["exams"]])


def write_spec(spec: dict, folder) -> None:
    write_course_folder(typed(spec), folder)


def make_course(**kwargs):
    spec = kwargs.pop("spec", None) or course_spec(**kwargs)
    with tempfile.TemporaryDirectory() as tmp:
        write_spec(spec, f"{tmp}/{spec['slug']}")
        return course_import(folder=f"{tmp}/{spec['slug']}")
