"""The built-in course's figures as files: every SVG is well-formed, accessible in its own
language and self-contained, and each language's lesson embeds exactly its own figures
(one file per language: name.en.svg and name.zh-Hans.svg)."""

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from courseapp.course_format.spec import FIGURE_SUFFIXES
from courseapp.services import BUILTIN_COURSE_DIR

SVG = "{http://www.w3.org/2000/svg}"
LESSONS = BUILTIN_COURSE_DIR / "lessons"
FIGURES = sorted(LESSONS.glob("*/*.svg"))
CJK = re.compile(r"[\u4e00-\u9fff]")
PER_LANGUAGE = re.compile(r"\.(en|zh-Hans)\.\w+$")  # name.en.svg; a language-neutral image is not checked here
IMAGE = re.compile(r'^!\[(?P<alt>[^\n]+)\]\((?P<src>[^)\s]+) "(?P<caption>[^"]+)"\)$', re.M)


def language(path: Path) -> str:
    return path.name.removesuffix(".svg").rsplit(".", 1)[1]


def test_the_course_has_at_least_ten_figures_in_both_languages():
    stems = {(p.parent.name, p.name.removesuffix(".svg").rsplit(".", 1)[0], language(p)) for p in FIGURES}
    english = {(lesson, name) for lesson, name, lang in stems if lang == "en"}
    chinese = {(lesson, name) for lesson, name, lang in stems if lang == "zh-Hans"}
    assert {lang for *_, lang in stems} == {"en", "zh-Hans"}
    assert english == chinese
    assert len(english) >= 10


@pytest.mark.parametrize("path", FIGURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_figure_is_accessible_and_self_contained(path):
    text = path.read_text(encoding="utf-8")
    root = ET.fromstring(text)  # noqa: S314  (our own repository's files); raises unless well-formed
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.get("viewBox") and root.get("width") and root.get("height")
    assert "Noto Sans CJK SC" in root.get("font-family", "")
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and desc is not None and title.text.strip() and len(desc.text.strip()) > 80
    in_chinese = language(path) == "zh-Hans"
    assert bool(CJK.search(title.text)) == in_chinese and bool(CJK.search(desc.text)) == in_chinese
    tags = {element.tag.removeprefix(SVG) for element in root.iter()}
    assert not tags & {"script", "foreignObject", "image", "iframe", "a"}
    assert not re.search(r"\son\w+\s*=", text)  # no event handlers
    # Only references inside the file (#id); nothing fetched from elsewhere.
    for element in root.iter():
        for name, value in element.attrib.items():
            if name.endswith("href"):
                assert value.startswith("#"), (element.tag, value)
    assert "url(" not in text.replace("url(#", "")


@pytest.mark.parametrize("lang", ["en", "zh-Hans"])
def test_each_lesson_embeds_its_own_figures_in_its_own_language(lang):
    for folder in sorted(p for p in LESSONS.iterdir() if p.is_dir()):
        expected = {p.name for p in folder.glob(f"*.{lang}.*") if p.suffix in FIGURE_SUFFIXES}
        images = [m for m in IMAGE.finditer((folder / f"{lang}.md").read_text(encoding="utf-8"))
                  if PER_LANGUAGE.search(m["src"])]
        assert {m["src"] for m in images} == expected, folder.name
        for match in images:
            assert bool(CJK.search(match["alt"])) == (lang == "zh-Hans"), match["alt"]
            assert bool(CJK.search(match["caption"])) == (lang == "zh-Hans"), match["caption"]
