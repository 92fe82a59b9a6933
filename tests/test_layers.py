"""The layers, checked by reading the source (`ast`), so nothing here starts Django.

- `core` is the base layer: it imports none of the apps;
- `playground/ml` and `training/ml` are the model code: no Django, no web modules, so they
  run, and are tested, on a GPU host by themselves;
- the rest of the site (views, consumers, services, tasks, the model worker's Django side)
  imports no torch, transformers, peft or bertviz: only the model code does, so a web
  process never loads them.

A long module is a reason to look, not a rule to split by, so there is no line limit.
"""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Every top-level folder with an apps.py is a Django app.
APPS = {path.parent.name for path in ROOT.glob("*/apps.py")} - {"core"}
HEAVY = {"torch", "transformers", "peft", "bertviz", "accelerate", "safetensors"}
WEB = {"django", "channels", "celery", "asgiref", "config", "core", *APPS}
ML_PACKAGES = ["playground/ml", "training/ml"]
ML_MODULES = ("playground.ml", "training.ml")  # the model code may import itself


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of every import in a file, at any depth (lazy imports count)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module
            found.append((node.lineno, name))
    return found


def offenders(folder: str, forbidden: set[str], allowed: tuple[str, ...] = ()) -> list[str]:
    result = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for line, name in imported_modules(path):
            if name.split(".")[0] in forbidden and not (name + ".").startswith(tuple(a + "." for a in allowed)):
                result.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return result


def test_the_checker_sees_absolute_relative_and_lazy_imports(tmp_path, monkeypatch):
    package = tmp_path / "core"
    package.mkdir()
    (package / "bad.py").write_text(
        "from accounts.models import Role\nfrom ..playground import x\n\ndef f():\n    import training.selectors\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert offenders("core", APPS) == [
        "core/bad.py:1 imports accounts.models",
        "core/bad.py:2 imports playground",
        "core/bad.py:5 imports training.selectors",
    ]


def test_core_imports_no_app():
    assert offenders("core", APPS) == []


@pytest.mark.parametrize("folder", ML_PACKAGES)
def test_model_code_imports_no_django_and_no_web_module(folder):
    assert offenders(folder, WEB, allowed=ML_MODULES) == []


def test_the_apps_are_found():
    assert {"accounts", "courseapp", "dashboards", "playground", "training", "ops", "audit"} <= APPS


@pytest.mark.parametrize("folder", sorted({"config", "core", *APPS}))
def test_the_web_side_imports_no_model_library(folder):
    found = [o for o in offenders(folder, HEAVY)
             if not o.startswith(tuple(f"{package}/" for package in ML_PACKAGES))]
    assert found == []
