"""The tokenizer lab's in-page BPE trainer (static/js/bpe-lab.js) in a real browser: an
employee opens the lab in English and in Chinese, merges step by step, and the widget's
merges, counts and vocabulary agree with the Python reference of the same rules
(tests/courseapp/test_beyond_the_basics.py), for the lesson's paragraph and a Chinese one."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.models import Role
from courseapp import services
from courseapp.models import Lesson
from tests.courseapp.test_beyond_the_basics import bpe_train, lab_paragraph
from tests.e2e.helpers import login
from tests.factories import make_team, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]
SHOTS = Path(settings.VAR_DIR) / "screenshots"


def status(merges: int, text: str, *, zh: bool = False) -> str:
    """The widget's status line after `merges` merges, as the reference computes it."""
    done, words, start = bpe_train(text, merges)
    n, vocab, tokens = len(done), start + len(done), sum(len(w) for w in words)
    if zh:
        return f"已合并 {n} 次 · 词表有 {vocab} 个符号 · 文本有 {tokens} 个词元"
    return f"{n} merges · vocabulary of {vocab} symbols · the text is {tokens} tokens"


def test_bpe_trainer_merges_like_the_reference_in_both_languages(page):
    course = services.course_seed_builtin(log=lambda *_: None)
    employee = make_user(Role.EMPLOYEE, team=make_team())
    for lesson in Lesson.objects.filter(course=course):  # no prerequisite locks the lab's body
        services.lesson_complete(user=employee, lesson=lesson)
    login(page, employee.username)
    SHOTS.mkdir(parents=True, exist_ok=True)
    paragraph = lab_paragraph()
    merges, _, _ = bpe_train(paragraph, 11)

    page.goto(f"/learn/{course.slug}/lessons/17-tokenizer-lab/")
    lab = page.locator(".lesson-body .bpe-lab")
    expect(lab).to_have_count(1)
    expect(page.locator(".lesson-body code.language-bpe-lab")).to_have_count(0)  # the block became the widget
    expect(lab.get_by_label("Training text")).to_have_value(paragraph)
    expect(lab.locator(".bpe-status")).to_have_text(status(0, paragraph))
    first_pairs = lab.locator(".bpe-pairs tbody tr")
    expect(first_pairs.first).to_contain_text(f"{merges[0][0]} + {merges[0][1]}")
    expect(first_pairs.first.locator("td").nth(1)).to_have_text(str(merges[0][2]))

    lab.get_by_role("button", name="Merge the most frequent pair").click()
    expect(lab.locator(".bpe-status")).to_have_text(status(1, paragraph))
    lab.get_by_role("button", name="10 merges").click()
    expect(lab.locator(".bpe-merges li")).to_have_count(11)
    for index, (left, right, count) in enumerate(merges):
        expect(lab.locator(".bpe-merges li").nth(index)).to_have_text(f"{left} + {right} → {left}{right} ({count}×)")
    expect(lab.locator(".bpe-status")).to_have_text(status(11, paragraph))
    lab.screenshot(path=str(SHOTS / "bpe-lab.en.png"))

    # In Chinese, on a Chinese sentence: one "word", so every pair occurs once.
    page.get_by_label(re.compile("^(Language|语言)$")).select_option("zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    sentence = "我明年可以顺延多少天休假？"
    lab.get_by_label("训练文本").fill(sentence)
    expect(lab.locator(".bpe-status")).to_have_text(status(0, sentence, zh=True))
    lab.get_by_role("button", name="合并出现最多的一对").click()
    left, right, count = bpe_train(sentence, 1)[0][0]
    expect(lab.locator(".bpe-merges li")).to_have_text(f"{left} + {right} → {left}{right} ({count}×)")
    lab.get_by_role("button", name="重新开始").click()
    expect(lab.locator(".bpe-merges li")).to_have_count(0)
    lab.screenshot(path=str(SHOTS / "bpe-lab.zh-Hans.png"))
    assert page.watch.errors == [], page.watch.errors
    assert page.watch.foreign == []
