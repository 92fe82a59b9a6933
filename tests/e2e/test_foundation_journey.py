"""Each role logs in through the real page and lands in its place; the UI switches
language; the playground socket answers; no third-party request, no console error."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.models import Role
from playground.services import models_provision_defaults
from tests.e2e.helpers import login
from tests.factories import make_team, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]
SHOTS = Path(settings.VAR_DIR) / "screenshots"



@pytest.mark.parametrize(
    ("role", "path", "heading", "nav"),
    [
        (Role.EMPLOYEE, "/learn/", "Courses", ["Courses", "Playground", "Fine-tunes", "My progress"]),
        (Role.MANAGER, "/team/", "Team dashboard", ["Courses", "Playground", "Fine-tunes", "My progress", "Team dashboard"]),
        (Role.ADMIN, "/curation/", "Curation",
         ["Courses", "Playground", "Fine-tunes", "My progress", "Team dashboard", "Curation", "Authoring",
          "AI literacy", "Audit log"]),
    ],
)
def test_each_role_lands_in_its_place(page, role, path, heading, nav):
    models_provision_defaults(log=lambda *_: None)
    user = make_user(role, team=make_team())
    login(page, user.username, wait=False)
    page.wait_for_url(re.compile(re.escape(path) + "$"))
    assert page.get_by_role("heading", level=1).inner_text() == heading
    assert page.locator("header nav a").all_inner_texts() == nav
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"home-{role}.png"), full_page=True)
    assert page.watch.foreign == []
    assert page.watch.errors == []


def test_language_switch_and_logout(page):
    user = make_user(Role.EMPLOYEE, team=make_team())
    login(page, user.username)
    page.wait_for_url(re.compile(r"/learn/$"))
    page.get_by_label("Language").select_option("zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_role("heading", level=1)).to_have_text("课程")
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))
    assert page.get_by_role("heading", level=1).inner_text() == "登录"
    assert page.watch.errors == [] and page.watch.foreign == []


def test_wrong_password_is_explained(page):
    user = make_user(Role.EMPLOYEE)
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    assert "correct username and password" in page.get_by_role("alert").inner_text()


def test_tokenizer_over_the_websocket(page):
    models_provision_defaults(log=lambda *_: None)
    user = make_user(Role.EMPLOYEE)
    login(page, user.username)
    page.goto("/playground/")
    page.locator("#tok-model").select_option("smollm2-135m-instruct")
    page.locator("#tok-text").fill("Hello world")
    page.get_by_role("button", name="Tokenize").click()
    tokens = page.locator("#tok-output .token-id")
    tokens.first.wait_for()
    assert page.locator("#tok-status").inner_text() == "2 tokens"
    assert page.locator("#tok-output .token-text").all_inner_texts() == ["Hello", "·world"]
    page.screenshot(path=str(SHOTS / "playground-tokenizer.png"), full_page=True)
    assert page.watch.errors == [] and page.watch.foreign == []


def test_a_lessons_tokens_tryit_shows_minilms_unknown_chinese_characters(page):
    """Lesson 14's MiniLM Try-it opens the tokenizer card on its model and sentence and splits it at once."""
    from courseapp.rendering import parse_tryit

    models_provision_defaults(log=lambda *_: None)
    lesson = (Path(settings.BASE_DIR) / "courseapp/content/how-llms-work/lessons/14-llms-and-chinese/en.md").read_text()
    bodies = re.findall(r"^```tryit\n(.*?)^```$", lesson, flags=re.M | re.S)
    tryit = next(t for t in (parse_tryit(b, line=0) for b in bodies) if t.view == "tokens" and t.model == "minilm-l6-v2")
    login(page, make_user(Role.EMPLOYEE).username)
    page.goto(tryit.url)
    expect(page.locator("#tok-model")).to_have_value("minilm-l6-v2")
    expect(page.locator("#tok-status")).to_have_text("18 tokens")
    assert page.locator("#tok-output .token-text").all_inner_texts().count("[UNK]") == 11
    page.locator("#tokenizer").screenshot(path=str(SHOTS / "playground-tokenizer-minilm-chinese.png"))
    assert page.watch.errors == [] and page.watch.foreign == []
