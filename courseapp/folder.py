"""The course folder format (docs/COURSE_FORMAT.md): read and validate a folder into
a plain spec, and write a spec back out in one normalised form.

No database here. `read_course_folder` collects every problem it finds, each naming
its file and line, and raises them together; authoring.course_import then writes the
spec in one transaction. `write_course_folder` is deterministic, so that
export → import → export gives identical bytes.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

import yaml
from django.utils.text import slugify

from core.encoding import NotUTF8, utf8_text

from .models import LabMetric
from .rendering import MarkdownError, render_markdown

LANGS = ("en", "zh-Hans")
QUESTION_TYPES = ("single", "multiple", "numeric", "text", "lab")
FIGURE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}
LESSON_FILES = {"lesson.yaml", "quiz.yaml", "en.md", "zh-Hans.md"}
# Course slugs that would shadow fixed URLs under /learn/.
RESERVED_SLUGS = {"me", "author", "attempts", "certificates"}


class FolderError(Exception):
    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


class LineDict(dict):
    """A YAML mapping that remembers the line of each key (1-based)."""

    line = 1
    key_lines: dict


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader, node):
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True

    def increase_indent(self, flow=False, indentless=False):
        # Indent lists under their key, as people write them.
        return super().increase_indent(flow, False)


def _represent_str(dumper, value):
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _represent_str)


class _Reader:
    """Validation helpers that record `file:line: message` instead of stopping."""

    def __init__(self, root: Path):
        self.root = root
        self.errors: list[str] = []

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)

    def error(self, path: Path, line: int, message: str):
        self.errors.append(f"{self.rel(path)}:{line}: {message}")

    def load_yaml(self, path: Path):
        if not path.is_file():
            self.error(path, 0, "file is missing")
            return None
        try:
            data = yaml.load(utf8_text(path.read_bytes()), Loader=_Loader)  # noqa: S506  (a SafeLoader subclass)
        except NotUTF8 as exc:
            self.error(path, exc.line, str(exc))
            return None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            self.error(path, mark.line + 1 if mark else 0, f"invalid YAML: {exc.problem or exc.context}")
            return None
        if not isinstance(data, LineDict):
            self.error(path, 1, "expected a YAML mapping at the top level")
            return None
        return data

    def line(self, data: LineDict, key: str) -> int:
        return data.key_lines.get(key, data.line) if isinstance(data, LineDict) else 0

    def keys(self, path: Path, data: LineDict, *, required: set, optional: set = frozenset()):
        for key in sorted(required - set(data), key=str):
            self.error(path, data.line, f"missing key '{key}'")
        for key in sorted(set(data) - required - set(optional), key=str):
            self.error(path, self.line(data, key), f"unknown key '{key}'")

    def text(self, path: Path, data: LineDict, key: str) -> dict:
        value = data.get(key)
        line = self.line(data, key)
        if not isinstance(value, dict):
            self.error(path, line, f"'{key}' must be a mapping with the keys {' and '.join(LANGS)}")
            return {lang: "" for lang in LANGS}
        for lang in sorted(set(value) - set(LANGS), key=str):
            self.error(path, line, f"'{key}' has an unknown language '{lang}'")
        result = {}
        for lang in LANGS:
            text = value.get(lang, "")
            if text is None:
                text = ""
            if not isinstance(text, str):
                self.error(path, line, f"'{key}.{lang}' must be text")
                text = ""
            result[lang] = text
        if not result["en"].strip():
            self.error(path, line, f"'{key}' needs an English ('en') text")
        return result

    def slug(self, path: Path, data: LineDict, key: str = "slug") -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value or slugify(value) != value:
            self.error(path, self.line(data, key), f"'{key}' must be a slug (lower-case letters, digits, hyphens)")
            return str(value)
        return value

    def integer(self, path: Path, data: LineDict, key: str, *, low: int = 0, high: int | None = None) -> int:
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            self.error(path, self.line(data, key), f"'{key}' must be a whole number {bound}")
            return low
        return value

    def boolean(self, path: Path, data: LineDict, key: str, default: bool | None = None) -> bool:
        if key not in data and default is not None:
            return default
        value = data.get(key)
        if not isinstance(value, bool):
            self.error(path, self.line(data, key), f"'{key}' must be true or false")
            return False
        return value

    def number(self, path: Path, data: LineDict, key: str, default: float | None = None) -> float:
        if key not in data and default is not None:
            return default
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error(path, self.line(data, key), f"'{key}' must be a number")
            return 0.0
        return float(value)

    def slug_list(self, path: Path, data: LineDict, key: str) -> list[str]:
        value = data.get(key, [])
        if value is None:
            value = []
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.error(path, self.line(data, key), f"'{key}' must be a list of slugs")
            return []
        return list(value)

    def markdown(self, path: Path, line: int, source: str, *, lang: str, **kwargs) -> str:
        try:
            return render_markdown(source, lang=lang, **kwargs)
        except MarkdownError as exc:
            self.error(path, line + exc.line - 1 if line else exc.line, exc.message)
            return ""


def read_course_folder(folder: Path | str) -> dict:
    """Read and validate a course folder; raises FolderError listing every problem."""
    root = Path(folder)
    reader = _Reader(root)
    if not root.is_dir():
        raise FolderError([f"{root}: not a folder"])
    course_path = root / "course.yaml"
    data = reader.load_yaml(course_path)
    if data is None:
        raise FolderError(reader.errors)
    reader.keys(course_path, data, required={"slug", "title", "summary", "published", "modules"},
                optional={"exams"})
    course = {
        "slug": reader.slug(course_path, data),
        "title": reader.text(course_path, data, "title"),
        "summary": reader.text(course_path, data, "summary"),
        "published": reader.boolean(course_path, data, "published"),
        "modules": [],
        "exams": [],
    }
    if course["slug"] in RESERVED_SLUGS:
        reader.error(course_path, reader.line(data, "slug"), f"'{course['slug']}' is reserved; choose another slug")
    seen_items: dict[str, str] = {}  # lesson and quiz slugs share one namespace for prerequisites

    def claim(slug: str, path: Path, line: int):
        if slug in seen_items:
            reader.error(path, line, f"slug '{slug}' is already used by {seen_items[slug]}")
        seen_items[slug] = reader.rel(path)

    modules = data.get("modules")
    if not isinstance(modules, list) or not modules:
        reader.error(course_path, reader.line(data, "modules"), "'modules' must be a non-empty list")
        modules = []
    module_slugs = set()
    for module_data in modules:
        if not isinstance(module_data, LineDict):
            reader.error(course_path, reader.line(data, "modules"), "each module must be a mapping")
            continue
        reader.keys(course_path, module_data, required={"slug", "title", "lessons"})
        module = {
            "slug": reader.slug(course_path, module_data),
            "title": reader.text(course_path, module_data, "title"),
            "lessons": [],
        }
        if module["slug"] in module_slugs:
            reader.error(course_path, module_data.line, f"module slug '{module['slug']}' is used twice")
        module_slugs.add(module["slug"])
        for lesson_slug in reader.slug_list(course_path, module_data, "lessons"):
            lesson = _read_lesson(reader, root / "lessons" / lesson_slug, lesson_slug, course["slug"])
            if lesson is None:
                reader.error(course_path, reader.line(module_data, "lessons"),
                             f"lesson folder 'lessons/{lesson_slug}' is missing")
                continue
            claim(lesson["slug"], root / "lessons" / lesson_slug / "lesson.yaml", 1)
            if lesson["quiz"]:
                claim(lesson["quiz"]["slug"], root / "lessons" / lesson_slug / "quiz.yaml", 1)
            module["lessons"].append(lesson)
        course["modules"].append(module)
    for exam_slug in reader.slug_list(course_path, data, "exams"):
        exam_path = root / "exams" / f"{exam_slug}.yaml"
        exam = _read_quiz(reader, exam_path)
        if exam is not None:
            if exam["slug"] != exam_slug:
                reader.error(exam_path, 1, f"slug '{exam['slug']}' must match the file name '{exam_slug}'")
            claim(exam["slug"], exam_path, 1)
            course["exams"].append(exam)
    # Prerequisites must name lessons or quizzes of this course.
    for item, path in _items_with_paths(course, root):
        for prereq in item["prerequisites"]:
            if prereq not in seen_items:
                reader.error(path, item["_prereq_line"], f"prerequisite '{prereq}' is not a lesson or quiz of this course")
            if prereq == item["slug"]:
                reader.error(path, item["_prereq_line"], "an item cannot be its own prerequisite")
    if reader.errors:
        raise FolderError(reader.errors)
    for item, _path in _items_with_paths(course, root):
        item.pop("_prereq_line", None)
    return course


def _items_with_paths(course: dict, root: Path):
    for module in course["modules"]:
        for lesson in module["lessons"]:
            yield lesson, root / "lessons" / lesson["slug"] / "lesson.yaml"
            if lesson["quiz"]:
                yield lesson["quiz"], root / "lessons" / lesson["slug"] / "quiz.yaml"
    for exam in course["exams"]:
        yield exam, root / "exams" / f"{exam['slug']}.yaml"


def lesson_figure_base(course_slug: str, lesson_slug: str) -> str:
    return f"/learn/{course_slug}/lessons/{lesson_slug}/files/"


def _read_lesson(reader: _Reader, folder: Path, slug: str, course_slug: str) -> dict | None:
    if not folder.is_dir():
        return None
    path = folder / "lesson.yaml"
    data = reader.load_yaml(path)
    if data is None:
        return {"slug": slug, "prerequisites": [], "quiz": None, "_prereq_line": 0}
    reader.keys(path, data, required={"slug", "title", "duration_minutes", "published"},
                optional={"prerequisites"})
    lesson = {
        "slug": reader.slug(path, data),
        "title": reader.text(path, data, "title"),
        "duration_minutes": reader.integer(path, data, "duration_minutes", low=1, high=1000),
        "published": reader.boolean(path, data, "published"),
        "prerequisites": reader.slug_list(path, data, "prerequisites"),
        "_prereq_line": reader.line(data, "prerequisites"),
        "body": {},
        "body_html": {},
        "figures": {},
        "quiz": None,
    }
    if lesson["slug"] != slug:
        reader.error(path, reader.line(data, "slug"), f"slug '{lesson['slug']}' must match the folder name '{slug}'")
    for lang in LANGS:
        md_path = folder / f"{lang}.md"
        if not md_path.is_file():
            reader.error(md_path, 0, "file is missing")
            lesson["body"][lang] = lesson["body_html"][lang] = ""
            continue
        try:
            source = utf8_text(md_path.read_bytes())
        except NotUTF8 as exc:
            reader.error(md_path, exc.line, str(exc))
            source = ""
        lesson["body"][lang] = source
        lesson["body_html"][lang] = reader.markdown(
            md_path, 0, source, lang=lang, figure_base=lesson_figure_base(course_slug, slug), drop_title=True
        )
    for file in sorted(folder.rglob("*")):
        if not file.is_file():
            continue
        name = file.relative_to(folder).as_posix()
        if name in LESSON_FILES:
            continue
        if file.suffix.lower() in FIGURE_SUFFIXES:
            lesson["figures"][name] = file.read_bytes()
        else:
            reader.error(file, 0, "unexpected file: a lesson folder holds lesson.yaml, en.md, zh-Hans.md, "
                                  "quiz.yaml and figures (" + ", ".join(sorted(FIGURE_SUFFIXES)) + ")")
    if (folder / "quiz.yaml").exists():
        lesson["quiz"] = _read_quiz(reader, folder / "quiz.yaml")
    return lesson


def _read_quiz(reader: _Reader, path: Path) -> dict | None:
    data = reader.load_yaml(path)
    if data is None:
        return None
    reader.keys(path, data, required={"slug", "title", "pass_mark", "max_attempts", "questions_per_attempt",
                                      "published", "questions"}, optional={"prerequisites"})
    quiz = {
        "slug": reader.slug(path, data),
        "title": reader.text(path, data, "title"),
        "pass_mark": reader.integer(path, data, "pass_mark", low=0, high=100),
        "max_attempts": reader.integer(path, data, "max_attempts", low=0),
        "questions_per_attempt": reader.integer(path, data, "questions_per_attempt", low=1),
        "published": reader.boolean(path, data, "published"),
        "prerequisites": reader.slug_list(path, data, "prerequisites"),
        "_prereq_line": reader.line(data, "prerequisites"),
        "questions": [],
    }
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
        if question["slug"] in slugs:
            reader.error(path, q.line, f"question slug '{question['slug']}' is used twice")
        slugs.add(question["slug"])
        quiz["questions"].append(question)
    if questions and quiz["questions_per_attempt"] > len(questions):
        reader.error(path, reader.line(data, "questions_per_attempt"),
                     f"'questions_per_attempt' ({quiz['questions_per_attempt']}) exceeds the pool of {len(questions)} questions")
    pinned = [q["slug"] for q in quiz["questions"] if q["pinned"] and q["published"]]
    if len(pinned) > quiz["questions_per_attempt"]:
        reader.error(path, reader.line(data, "questions_per_attempt"),
                     f"{len(pinned)} questions are pinned ({', '.join(pinned)}) but an attempt draws only "
                     f"{quiz['questions_per_attempt']} ('questions_per_attempt'): pin fewer or draw more")
    return quiz


def _read_question(reader: _Reader, path: Path, q: LineDict) -> dict:
    qtype = q.get("type")
    extra = {"single": {"choices"}, "multiple": {"choices"}, "numeric": {"answer", "tolerance"},
             "text": {"accepted"}, "lab": {"metric", "tolerance"}}.get(qtype, set())
    if qtype not in QUESTION_TYPES:
        reader.error(path, reader.line(q, "type"), f"'type' must be one of {', '.join(QUESTION_TYPES)}")
    reader.keys(path, q, required={"slug", "type", "prompt", "explanation"} | (extra - {"tolerance"}),
                optional={"points", "published", "pinned", "tolerance"})
    question = {
        "slug": reader.slug(path, q),
        "type": qtype,
        "points": reader.integer(path, q, "points", low=1) if "points" in q else 1,
        "published": reader.boolean(path, q, "published", default=True),
        "pinned": reader.boolean(path, q, "pinned", default=False),
        "lab_metric": "",
        "prompt": reader.text(path, q, "prompt"),
        "explanation": reader.text(path, q, "explanation"),
        "choices": [],
        "answer": None,
        "tolerance": 0.0,
        "accepted": {},
    }
    for field in ("prompt", "explanation"):
        question[f"{field}_html"] = {
            lang: reader.markdown(path, reader.line(q, field), question[field][lang], lang=lang) for lang in LANGS
        }
    if qtype in ("single", "multiple"):
        choices = q.get("choices")
        if not isinstance(choices, list) or len(choices) < 2:
            reader.error(path, reader.line(q, "choices"), "'choices' must list at least two choices")
            choices = []
        for c in choices:
            if not isinstance(c, LineDict):
                reader.error(path, reader.line(q, "choices"), "each choice must be a mapping")
                continue
            reader.keys(path, c, required={"text", "correct", "explanation"})
            question["choices"].append({
                "text": reader.text(path, c, "text"),
                "correct": reader.boolean(path, c, "correct"),
                "explanation": reader.text(path, c, "explanation"),
            })
        n_correct = sum(c["correct"] for c in question["choices"])
        if choices and qtype == "single" and n_correct != 1:
            reader.error(path, reader.line(q, "choices"), f"single-choice question '{question['slug']}' needs exactly one correct choice")
        if choices and qtype == "multiple" and n_correct < 1:
            reader.error(path, reader.line(q, "choices"), f"multiple-choice question '{question['slug']}' needs a correct choice")
    elif qtype in ("numeric", "lab"):
        if qtype == "numeric":
            question["answer"] = reader.number(path, q, "answer")
        elif q.get("metric") in LabMetric.values:
            question["lab_metric"] = q["metric"]
        elif "metric" in q:
            reader.error(path, reader.line(q, "metric"), f"'metric' must be one of {', '.join(LabMetric.values)}")
        question["tolerance"] = reader.number(path, q, "tolerance", default=0.0)
        if question["tolerance"] < 0:
            reader.error(path, reader.line(q, "tolerance"), "'tolerance' cannot be negative")
    elif qtype == "text":
        accepted = q.get("accepted")
        if not isinstance(accepted, dict) or set(accepted) - set(LANGS) or not all(
            isinstance(v, list) and all(isinstance(s, str) and s.strip() for s in v) for v in accepted.values()
        ) or not accepted.get("en"):
            reader.error(path, reader.line(q, "accepted"),
                         "'accepted' must map en (and zh-Hans) to non-empty lists of answers")
        else:
            question["accepted"] = {lang: list(accepted.get(lang, [])) for lang in LANGS}
    return question


# --- Writing -------------------------------------------------------------------


def _number(value: float):
    return int(value) if float(value).is_integer() else value


def _dump(path: Path, data: dict):
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100,
                     default_flow_style=False)
    path.write_bytes(text.encode("utf-8"))


def _quiz_data(quiz: dict) -> dict:
    questions = []
    for q in quiz["questions"]:
        item = {"slug": q["slug"], "type": q["type"], "points": q["points"]}
        if not q["published"]:
            item["published"] = False
        if q.get("pinned"):
            item["pinned"] = True
        item["prompt"] = dict(q["prompt"])
        item["explanation"] = dict(q["explanation"])
        if q["type"] in ("single", "multiple"):
            item["choices"] = [
                {"text": dict(c["text"]), "correct": c["correct"], "explanation": dict(c["explanation"])}
                for c in q["choices"]
            ]
        elif q["type"] == "numeric":
            item["answer"] = _number(q["answer"])
            item["tolerance"] = _number(q["tolerance"])
        elif q["type"] == "lab":
            item["metric"] = q["lab_metric"]
            item["tolerance"] = _number(q["tolerance"])
        else:
            item["accepted"] = {lang: list(q["accepted"].get(lang, [])) for lang in LANGS}
        questions.append(item)
    return {
        "slug": quiz["slug"],
        "title": dict(quiz["title"]),
        "pass_mark": quiz["pass_mark"],
        "max_attempts": quiz["max_attempts"],
        "questions_per_attempt": quiz["questions_per_attempt"],
        "published": quiz["published"],
        "prerequisites": list(quiz["prerequisites"]),
        "questions": questions,
    }


def write_course_folder(course: dict, folder: Path | str) -> Path:
    """Write a course spec as a folder (created if absent; the course's files are replaced)."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    _dump(root / "course.yaml", {
        "slug": course["slug"],
        "title": dict(course["title"]),
        "summary": dict(course["summary"]),
        "published": course["published"],
        "modules": [
            {"slug": m["slug"], "title": dict(m["title"]), "lessons": [lesson["slug"] for lesson in m["lessons"]]}
            for m in course["modules"]
        ],
        "exams": [exam["slug"] for exam in course["exams"]],
    })
    for module in course["modules"]:
        for lesson in module["lessons"]:
            lesson_dir = root / "lessons" / lesson["slug"]
            lesson_dir.mkdir(parents=True, exist_ok=True)
            _dump(lesson_dir / "lesson.yaml", {
                "slug": lesson["slug"],
                "title": dict(lesson["title"]),
                "duration_minutes": lesson["duration_minutes"],
                "published": lesson["published"],
                "prerequisites": list(lesson["prerequisites"]),
            })
            for lang in LANGS:
                (lesson_dir / f"{lang}.md").write_bytes(lesson["body"].get(lang, "").encode("utf-8"))
            for name, data in lesson["figures"].items():
                target = lesson_dir / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            if lesson["quiz"]:
                _dump(lesson_dir / "quiz.yaml", _quiz_data(lesson["quiz"]))
    for exam in course["exams"]:
        _dump(root / "exams" / f"{exam['slug']}.yaml", _quiz_data(exam))
    return root


def guess_content_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
