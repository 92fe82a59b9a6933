"""The course reader's YAML loading and field checks: a loader that remembers each
key's line, and FieldReader, whose checks record `file:line: message` instead of
stopping, so that one read reports every problem."""

from __future__ import annotations

from pathlib import Path

import yaml
from django.utils.text import slugify

from core.encoding import NotUTF8, utf8_text

from ..rendering import MarkdownError, render_markdown
from .spec import LANGS


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


class FieldReader:
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
