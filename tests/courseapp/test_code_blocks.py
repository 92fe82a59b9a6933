"""Every ```python block of every lesson runs offline against the playground's own models and
prints what the lesson says it prints.

No host here reaches a model hub, so a sample reads a model folder from $SMOLLM2 or $MINILM,
which `manage.py model_path` prints (the lessons say so). A lesson's blocks run in order as one
script, the way a learner pastes them into one session, in a subprocess with HF_HUB_OFFLINE=1.
A ```text block that directly follows a python block is that block's output: each of its lines
must appear, in order, among the lines the block prints (other lines, such as progress logs or a
score that depends on the learner's data, may come between), and every number in it must agree
with the printed one to rounding. zh-Hans.md holds the same code (comments aside) and outputs.

Lesson 5's fine-tuning sample reads the learner's own `tickets.csv`; the test writes a small
one of support tickets, so its accuracy is not pinned, only the split sizes and the LoRA
parameter count, which do not depend on the data's content.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

COURSE = Path(settings.BASE_DIR) / "courseapp/content/how-llms-work"
LESSONS = sorted(p.name for p in (COURSE / "lessons").iterdir() if p.is_dir())
FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```$", re.M | re.S)
MARKER = "@@ next block @@"
NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")
# A string like "owner/model" passed to a loader is a hub id; so is any loader fed a literal.
HUB_ID = re.compile(r"""from_pretrained\(\s*["']|SentenceTransformer\(|evaluate\.load\(|["'][\w.-]+/[\w.-]+["']""")


def samples(path: Path) -> list[tuple[str, str | None]]:
    """(code, expected output or None) for each python block of a lesson file."""
    text = path.read_text(encoding="utf-8")
    fences = list(FENCE.finditer(text))
    found = []
    for i, fence in enumerate(fences):
        if fence.group(1) != "python":
            continue
        after = fences[i + 1] if i + 1 < len(fences) else None
        output = (after.group(2) if after and after.group(1) == "text"
                  and not text[fence.end():after.start()].strip() else None)
        found.append((fence.group(2), output))
    return found


def _code_only(code: str) -> list[str]:
    """The lines of a sample without comments and blank lines (the languages differ in comments)."""
    lines = []
    for line in code.splitlines():
        line = re.sub(r"\s+#.*$", "", line) if not line.lstrip().startswith("#") else ""
        if line.strip():
            lines.append(line.rstrip())
    return lines


def _same(expected: str, printed: str) -> bool:
    """The same line, numbers allowed to differ in the last rounded digit."""
    if NUMBER.sub("#", expected).strip() != NUMBER.sub("#", printed).strip():
        return False
    for want, got in zip(NUMBER.findall(expected), NUMBER.findall(printed), strict=True):
        want, got = float(want.replace(",", "")), float(got.replace(",", ""))
        if abs(want - got) > 0.002 + 1e-3 * abs(want):
            return False
    return True


def _contains_in_order(printed: list[str], expected: list[str]) -> str | None:
    """None if every expected line is printed, in order; else the first one missing."""
    rest = iter(printed)
    for line in expected:
        if not any(_same(line, got) for got in rest):
            return line
    return None


LESSONS_WITH_CODE = [slug for slug in LESSONS if samples(COURSE / "lessons" / slug / "en.md")]


@pytest.mark.parametrize("slug", LESSONS)
def test_code_blocks_name_no_hub_model_and_match_across_languages(slug):
    en, zh = (samples(COURSE / "lessons" / slug / name) for name in ("en.md", "zh-Hans.md"))
    assert len(en) == len(zh), slug
    for (en_code, en_out), (zh_code, zh_out) in zip(en, zh, strict=True):
        assert _code_only(en_code) == _code_only(zh_code), f"{slug}: the two languages' samples differ"
        assert en_out == zh_out, f"{slug}: the two languages show different outputs"
        assert not HUB_ID.search(en_code), f"{slug}: a sample loads a hub id: {HUB_ID.search(en_code).group(0)}"


def test_some_lessons_have_code_and_every_printing_sample_states_its_output():
    assert len(LESSONS_WITH_CODE) >= 8
    for slug in LESSONS_WITH_CODE:
        for code, output in samples(COURSE / "lessons" / slug / "en.md"):
            if "print" in code:
                assert output, f"{slug}: a sample prints but the lesson does not show what"


@pytest.fixture(scope="module")
def model_env():
    from playground.ml.provision import MINILM_NAME, SMOLLM2_NAME, provision_defaults

    paths = {m.name: str(m.path) for m in provision_defaults(Path(settings.LLM_MODEL_DIR), log=lambda *_: None)}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "DJANGO_"))}
    return env | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                  "SMOLLM2": paths[SMOLLM2_NAME], "MINILM": paths[MINILM_NAME]}


def _write_tickets(folder: Path):
    """A learner's tickets.csv for lesson 5: 40 rows, label 1 = needs action."""
    action = ["I can't log in to my account", "The app crashes when I open it", "My password reset email never arrives",
              "The page shows an error 500", "I was charged twice for one order"]
    thanks = ["Thanks, the problem is solved", "Great service, thank you", "No further help needed",
              "I found the answer in the FAQ", "Please close this ticket"]
    with (folder / "tickets.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        for ending in (".", " again.", " today.", "!"):
            writer.writerows([(t + ending, 1) for t in action] + [(t + ending, 0) for t in thanks])


@pytest.mark.slow
@pytest.mark.parametrize("slug", LESSONS_WITH_CODE)
def test_lesson_code_runs_offline_and_prints_what_the_lesson_says(slug, model_env, tmp_path):
    blocks = samples(COURSE / "lessons" / slug / "en.md")
    script = f"\nprint({MARKER!r}, flush=True)\n".join(code for code, _ in blocks)
    _write_tickets(tmp_path)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=model_env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, f"{slug}: a sample failed:\n{done.stderr[-3000:]}"
    printed = done.stdout.split(MARKER + "\n")
    assert len(printed) == len(blocks)
    for i, ((_code, output), out) in enumerate(zip(blocks, printed, strict=True)):
        if output is None:
            continue
        missing = _contains_in_order(out.splitlines(), output.splitlines())
        assert missing is None, f"{slug}, sample {i + 1}: the lesson shows {missing!r}; it printed:\n{out}"


def test_the_output_check_allows_rounding_and_extra_lines_but_not_other_numbers():
    printed = ["Loading…", "[0.736, 0.74, 0.345]", "{'train_loss': '0.6849'}", "32 4 4"]
    assert _contains_in_order(printed, ["[0.736, 0.740, 0.345]", "32 4 4"]) is None
    assert _contains_in_order(printed, ["[0.736, 0.75, 0.345]"]) == "[0.736, 0.75, 0.345]"
    assert _contains_in_order(printed, ["32 4 4", "[0.736, 0.74, 0.345]"]) == "[0.736, 0.74, 0.345]"  # order counts
    assert _contains_in_order(printed, ["32 4"]) == "32 4"
