"""Write a CourseSpec as a course folder, in one normalised form: deterministic, so
that export → import → export gives identical bytes."""

from __future__ import annotations

from pathlib import Path

import yaml

from .spec import LANGS, CourseSpec, LessonSpec, QuestionSpec, QuizSpec


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True

    def increase_indent(self, flow=False, indentless=False):
        # Indent lists under their key, as people write them.
        return super().increase_indent(flow, False)


def _represent_str(dumper, value):
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _represent_str)


def _number(value: float):
    return int(value) if float(value).is_integer() else value


def _dump(path: Path, data: dict):
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100,
                     default_flow_style=False)
    path.write_bytes(text.encode("utf-8"))


def _question_data(q: QuestionSpec) -> dict:
    item = {"slug": q.slug, "type": q.type, "points": q.points}
    if not q.published:
        item["published"] = False
    if q.pinned:
        item["pinned"] = True
    item["prompt"] = dict(q.prompt)
    item["explanation"] = dict(q.explanation)
    if q.type in ("single", "multiple"):
        item["choices"] = [{"text": dict(c.text), "correct": c.correct, "explanation": dict(c.explanation)}
                           for c in q.choices]
    elif q.type == "numeric":
        item["answer"] = _number(q.answer)
        item["tolerance"] = _number(q.tolerance)
    elif q.type == "lab":
        item["metric"] = q.lab_metric
        item["tolerance"] = _number(q.tolerance)
    else:
        item["accepted"] = {lang: list(q.accepted.get(lang, [])) for lang in LANGS}
    return item


def _quiz_data(quiz: QuizSpec) -> dict:
    return {
        "slug": quiz.slug,
        "title": dict(quiz.title),
        "pass_mark": quiz.pass_mark,
        "max_attempts": quiz.max_attempts,
        "questions_per_attempt": quiz.questions_per_attempt,
        "published": quiz.published,
        "prerequisites": list(quiz.prerequisites),
        "questions": [_question_data(q) for q in quiz.questions],
    }


def _write_lesson(lesson_dir: Path, lesson: LessonSpec):
    lesson_dir.mkdir(parents=True, exist_ok=True)
    _dump(lesson_dir / "lesson.yaml", {
        "slug": lesson.slug,
        "title": dict(lesson.title),
        "duration_minutes": lesson.duration_minutes,
        "published": lesson.published,
        "prerequisites": list(lesson.prerequisites),
    })
    for lang in LANGS:
        (lesson_dir / f"{lang}.md").write_bytes(lesson.body.get(lang, "").encode("utf-8"))
    for name, data in lesson.figures.items():
        target = lesson_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    if lesson.quiz:
        _dump(lesson_dir / "quiz.yaml", _quiz_data(lesson.quiz))


def write_course_folder(course: CourseSpec, folder: Path | str) -> Path:
    """Write a course spec as a folder (created if absent; the course's files are replaced)."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    _dump(root / "course.yaml", {
        "slug": course.slug,
        "title": dict(course.title),
        "summary": dict(course.summary),
        "published": course.published,
        "modules": [{"slug": m.slug, "title": dict(m.title), "lessons": [lesson.slug for lesson in m.lessons]}
                    for m in course.modules],
        "exams": [exam.slug for exam in course.exams],
    })
    for lesson in course.lessons():
        _write_lesson(root / "lessons" / lesson.slug, lesson)
    for exam in course.exams:
        _dump(root / "exams" / f"{exam.slug}.yaml", _quiz_data(exam))
    return root
