"""An employee streams a generation in the real browser, stops one, and opens a permalink."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.models import Role
from playground.models import PlaygroundRun, RunStatus
from playground.services import models_provision_defaults
from tests.e2e.helpers import login
from tests.factories import make_team, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]
SHOTS = Path(settings.VAR_DIR) / "screenshots"



def test_stream_stop_and_permalink(page):
    models_provision_defaults(log=lambda *_: None)
    team = make_team()
    employee = make_user(Role.EMPLOYEE, team=team)
    login(page, employee.username)
    # A lesson's "Try it" link prefills the page.
    page.goto("/playground/?model=smollm2-135m-instruct&mode=completion&view=probabilities"
              "&prompt=The+capital+of+France+is&temperature=0&max_new_tokens=8")
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("The capital of France is")
    expect(page.get_by_label("Temperature")).to_have_value("0.0")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#gen-status")).to_contain_text("Done", timeout=60000)
    tokens = page.locator("#gen-output .tok")
    assert tokens.count() >= 1
    assert "Paris" in page.locator("#gen-output").inner_text()
    assert page.locator("#prompt-tokens .token").count() == 5
    assert page.locator("#t-ttft").inner_text().endswith("ms")
    # Hovering a token shows its probability and the alternatives.
    tokens.first.hover()
    expect(page.locator("#token-inspector")).to_contain_text("model probability")
    assert page.locator("#token-inspector .alternatives li").count() == 5
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "playground-generation.png"), full_page=True)

    # A long run, stopped by the same button.
    page.get_by_label("Prompt", exact=True).fill("Once upon a time, in a city of robots,")
    page.get_by_label("Temperature").fill("0.8")
    page.get_by_label("Max new tokens").fill("300")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#gen-output .tok").nth(3)).to_be_visible(timeout=60000)
    page.get_by_role("button", name="Stop").click()
    expect(page.locator("#gen-status")).to_contain_text("Done: stopped", timeout=30000)
    stopped = PlaygroundRun.objects.get(user=employee, prompt__startswith="Once upon")
    assert stopped.status == RunStatus.STOPPED and 3 <= stopped.completion_tokens < 300

    # The permalink opens the saved run, tokens and all.
    page.get_by_role("link", name="Permalink to this run").click()
    page.wait_for_url(re.compile(r"/playground/runs/[0-9a-f-]+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Run")
    assert page.locator("#gen-output .tok").count() == stopped.completion_tokens
    # A line-break token carries a ↵ mark, shown only while boundaries are.
    on, off, text = page.evaluate('''() => {
        const out = document.getElementById("gen-output");
        const tok = LLMTokens.makeToken({id: 198, text: "\\n", p: 0.5, top: []}, null);
        out.append(tok);
        const mark = tok.querySelector(".nl-mark");
        const on = getComputedStyle(mark).display;
        out.classList.remove("boundaries");
        const off = getComputedStyle(mark).display;
        out.classList.add("boundaries");
        tok.remove();
        return [on, off, tok.textContent];
    }''')
    assert (on, off, text) == ("inline", "none", "↵\n")
    assert page.watch.errors == [] and page.watch.foreign == []

    # The owner's manager may open it; another employee may not.
    url = page.url
    manager = make_user(Role.MANAGER, team=team)
    outsider = make_user(Role.EMPLOYEE, team=make_team())
    for user, allowed in ((manager, True), (outsider, False)):
        page.context.clear_cookies()
        login(page, user.username)
        response = page.goto(url)
        assert response.status == (200 if allowed else 403)

    # In Chinese, what the scripts write is Chinese too.
    page.goto("/playground/?model=smollm2-135m-instruct&mode=completion&prompt=Hello&temperature=0&max_new_tokens=3")
    page.get_by_label("Language").select_option("zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    page.locator("#gen-button").click()
    expect(page.locator("#gen-status")).to_contain_text("完成：达到最大新词元数。共 3 个词元。", timeout=60000)
    page.locator("#gen-output .tok").first.hover()
    expect(page.locator("#token-inspector")).to_contain_text("模型概率")
    expect(page.locator("#run-link")).to_contain_text("本次运行的永久链接")
