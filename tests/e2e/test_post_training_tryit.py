"""The post-training lesson's first Try it in a real browser, on the real model: the bare
question without the chat template ends at once with <|im_end|>, which the output shows as
one ∅ token whose inspector gives the probability the pinned quiz question asks for."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from playground.services import models_provision_defaults
from tests.courseapp.test_model_checked_questions import COURSE, _question
from tests.e2e.helpers import login
from tests.factories import make_team, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def test_bare_question_ends_with_one_empty_token(page):
    from courseapp.rendering import parse_tryit

    models_provision_defaults(log=lambda *_: None)
    login(page, make_user(Role.EMPLOYEE, team=make_team()).username)
    lesson = (COURSE / "lessons/15-post-training/en.md").read_text(encoding="utf-8")
    tryit = parse_tryit(re.findall(r"^```tryit\n(.*?)^```$", lesson, flags=re.M | re.S)[0], line=0)
    assert (tryit.mode, tryit.view) == ("completion", "probabilities")
    page.goto(tryit.url)
    page.locator("#gen-button").click()
    expect(page.locator("#gen-output .tok")).to_have_count(1, timeout=60000)
    token = page.locator("#gen-output .tok").first
    expect(token).to_have_text("∅")
    token.hover()
    answer = _question("lessons/15-post-training/quiz.yaml", "q1-im-end-without-template")["answer"]
    shown = page.locator("#token-inspector .inspector-title").inner_text()
    probability = float(re.search(r"([\d.]+)%", shown).group(1))
    assert abs(probability - answer) <= 1.0, shown
    assert page.watch.errors == [], page.watch.errors
