import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from courseapp import authoring, services
from courseapp.course_format.spec import FolderError
from courseapp.models import Attempt, Choice, Course, Lesson, LessonFigure, Module, Question, Quiz
from courseapp.services import BUILTIN_COURSE_DIR
from tests.courseapp.factories import course_spec, make_course
from tests.courseapp.helpers import responses, unlock

pytestmark = pytest.mark.django_db


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _empty_database():
    Course.objects.all().delete()
    for model in (Module, Lesson, Quiz, Question, Choice, LessonFigure):
        assert not model.objects.exists()


def test_builtin_round_trip_is_lossless(tmp_path, builtin_course):
    first = tmp_path / "first"
    call_command("course_export", "how-llms-work", str(first))
    _empty_database()
    call_command("course_import", str(first))
    second = tmp_path / "second"
    call_command("course_export", "how-llms-work", str(second))
    a, b = _files(first), _files(second)
    assert list(a) == list(b) and a == b
    assert len([n for n in a if n.endswith(".md")]) == 28 and "exams/final-exam.yaml" in a
    # The export is the same course as the hand-written folder, not just a stable file.
    course = Course.objects.get(slug="how-llms-work")
    hand_written = (BUILTIN_COURSE_DIR / "lessons/02-transformer-attention/en.md").read_text()
    assert course.lessons.get(slug="02-transformer-attention").body["en"] == hand_written
    assert Question.objects.filter(quiz__course=course).count() == 138  # + the layer-view and switch-off questions (lessons 3 and 2)


def test_round_trip_keeps_figures_drafts_and_every_question_type(tmp_path):
    spec = course_spec(slug="rt", lessons=2, exam=True)
    spec["modules"][0]["lessons"][0]["figures"] = {"figures/dot.png": b"\x89PNG\r\n\x1a\nfake",
                                                   "chart.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>"}
    spec["modules"][0]["lessons"][0]["body"]["en"] = "# T\n\n![A dot](figures/dot.png)\n\nLine  with  spaces \n"
    spec["modules"][0]["lessons"][1]["published"] = False
    spec["exams"][0]["questions"][0]["published"] = False
    spec["exams"][0]["questions"][2]["tolerance"] = 0.01
    course = make_course(spec=spec)
    lesson = course.lessons.get(slug="m1-l1")
    assert '<img alt="A dot" src="/learn/rt/lessons/m1-l1/files/figures/dot.png">' in lesson.body_html["en"]
    authoring.course_export(course=course, folder=tmp_path / "one")
    _empty_database()
    authoring.course_import(folder=tmp_path / "one")
    authoring.course_export(course=Course.objects.get(slug="rt"), folder=tmp_path / "two")
    assert _files(tmp_path / "one") == _files(tmp_path / "two")
    assert _files(tmp_path / "two")["lessons/m1-l1/figures/dot.png"] == b"\x89PNG\r\n\x1a\nfake"
    assert Question.objects.get(slug="final-q3").tolerance == 0.01
    assert not Question.objects.get(slug="final-q1").published and not Lesson.objects.get(slug="m1-l2").published


def _broken_copy(tmp_path, relative: str, old: str, new: str) -> Path:
    folder = tmp_path / "how-llms-work"
    shutil.copytree(BUILTIN_COURSE_DIR, folder)
    path = folder / relative
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return folder


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_broken_yaml_names_file_and_line_and_imports_nothing(tmp_path):
    folder = _broken_copy(tmp_path, "lessons/05-fine-tuning/quiz.yaml", "pass_mark: 70", "pass_mark: [70")
    line = _line_of(folder / "lessons/05-fine-tuning/quiz.yaml", "pass_mark: [70")
    with pytest.raises(FolderError) as exc:
        authoring.course_import(folder=folder)
    assert any(e.startswith("how-llms-work/lessons/05-fine-tuning/quiz.yaml:") for e in exc.value.errors)
    reported = int(exc.value.errors[0].split(":")[1])
    assert line <= reported <= line + 2  # the parser reports where the flow sequence breaks
    assert not Course.objects.exists() and not Lesson.objects.exists() and not Question.objects.exists()
    with pytest.raises(CommandError, match=r"quiz\.yaml:\d+: invalid YAML"):
        call_command("course_import", str(folder))
    assert not Course.objects.exists()


def test_late_error_leaves_nothing_half_imported(tmp_path):
    # The last file read is broken: everything before it was valid, and still nothing is written.
    folder = _broken_copy(tmp_path, "exams/final-exam.yaml", "questions_per_attempt: 10", "questions_per_attempt: ten")
    with pytest.raises(FolderError) as exc:
        authoring.course_import(folder=folder)
    line = _line_of(folder / "exams/final-exam.yaml", "questions_per_attempt: ten")
    assert f"how-llms-work/exams/final-exam.yaml:{line}: 'questions_per_attempt' must be a whole number" in exc.value.errors[0]
    assert not Course.objects.exists() and not Question.objects.exists()


@pytest.mark.parametrize(("relative", "old", "new", "message"), [
    ("lessons/01-why-llms/lesson.yaml", "duration_minutes:", "duration_minute:", "unknown key 'duration_minute'"),
    ("lessons/03-tokens-embeddings-hidden-states/lesson.yaml", "prerequisites: [01-why-llms]", "prerequisites: [nope]",
     "prerequisite 'nope' is not a lesson or quiz of this course"),
    ("lessons/02-transformer-attention/quiz.yaml", "        correct: false", "        correct: true",
     "needs exactly one correct choice"),
    ("lessons/02-transformer-attention/quiz.yaml", "    type: numeric", "    type: essay", "'type' must be one of"),
    ("lessons/02-transformer-attention/en.md", "view: attention", "view: [attention", "try-it block"),
    ("lessons/02-transformer-attention/en.md", "view: attention", "view: heatmap", "try-it view must be one of"),
])
def test_invalid_content_is_reported_with_file_and_line(tmp_path, relative, old, new, message):
    folder = _broken_copy(tmp_path, relative, old, new)
    line = _line_of(folder / relative, new.strip())
    with pytest.raises(FolderError) as exc:
        authoring.course_import(folder=folder)
    hits = [e for e in exc.value.errors if message in e]
    assert hits, exc.value.errors
    where, line_no = hits[0].split(":")[:2]
    assert where == f"how-llms-work/{relative}"
    assert abs(int(line_no) - line) <= 8, (hits[0], line)
    assert not Course.objects.exists()


def test_reimport_updates_in_place_and_keeps_learner_history(tmp_path, employee):
    course = make_course(slug="kept", lessons=2)
    quiz = Quiz.objects.get(course=course, slug="m1-l1-quiz")
    unlock(employee, quiz)
    attempt = services.attempt_start(user=employee, quiz=quiz)
    services.attempt_submit(user=employee, attempt_id=attempt.pk, responses=responses(attempt))
    authoring.course_export(course=course, folder=tmp_path / "kept")
    lesson_yaml = tmp_path / "kept/lessons/m1-l1/lesson.yaml"
    lesson_yaml.write_text(lesson_yaml.read_text().replace("en: Lesson m1-l1", "en: Renamed lesson"))
    course_yaml = tmp_path / "kept/course.yaml"
    course_yaml.write_text(course_yaml.read_text().replace("      - m1-l2\n", ""))
    authoring.course_import(folder=tmp_path / "kept")
    assert Lesson.objects.get(slug="m1-l1").title["en"] == "Renamed lesson"
    assert not Lesson.objects.filter(slug="m1-l2").exists()
    assert Attempt.objects.get(pk=attempt.pk).score == 100.0  # same quiz row, history intact
    assert Quiz.objects.get(slug="m1-l1-quiz").pk == quiz.pk


def test_export_of_unknown_course_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="No course"):
        call_command("course_export", "missing", str(tmp_path))


def test_a_latin1_lesson_names_its_file_and_line(tmp_path):
    folder = tmp_path / "how-llms-work"
    shutil.copytree(BUILTIN_COURSE_DIR, folder)
    path = folder / "lessons/01-why-llms/en.md"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = "Café, written by an editor that saves Latin-1."
    path.write_bytes("\n".join(lines).encode("latin-1", errors="replace"))
    with pytest.raises(FolderError) as exc:
        authoring.course_import(folder=folder)
    assert "how-llms-work/lessons/01-why-llms/en.md:3: byte 0xe9 at column 4 is not UTF-8" in exc.value.errors[0]
    assert not Course.objects.exists()
