"""An admin plugs in an OpenAI-compatible endpoint (llama.cpp's real server) on the
Curation page; an employee streams from it in Chinese and inspects the alternatives."""

from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.models import Role
from playground.models import ModelEntry, PlaygroundRun, RunStatus
from tests.e2e.helpers import login
from tests.factories import make_user
from tests.llama_server import SERVED_MODEL

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]
SHOTS = Path(settings.VAR_DIR) / "screenshots"
PROMPT = "请用一句话解释什么是大语言模型。"


def test_admin_registers_an_endpoint_and_an_employee_streams_from_it_in_chinese(page, llama_server, tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    # The web process reads the key from a secret file (the server process was started
    # before this test, so an environment variable set now would not reach it).
    secret = tmp_path / "llama-key"
    secret.write_text(llama_server.api_key + "\n")

    admin = make_user(Role.ADMIN)
    login(page, admin.username)
    page.goto("/curation/")
    form = page.locator("form").filter(has=page.locator("input[name=form][value=endpoint]"))
    form.get_by_label("Name", exact=True).fill("smollm2-llama")
    form.get_by_label("Display name").fill("SmolLM2 on llama.cpp")
    form.get_by_label("base URL").fill(llama_server.base_url)
    form.get_by_label("served model name").fill(SERVED_MODEL)
    # A key pasted where its variable's name goes is refused, with the reason.
    form.get_by_label("API key: environment variable").fill("sk-" + llama_server.api_key)
    form.get_by_role("button", name="Register endpoint").click()
    expect(page.locator(".has-error")).to_contain_text("never the key itself")
    form = page.locator("form").filter(has=page.locator("input[name=form][value=endpoint]"))
    form.get_by_label("API key: environment variable").fill("")
    form.get_by_label("API key: secret file").fill(str(secret))
    form.get_by_label("timeout (seconds)").fill("120")
    form.get_by_role("button", name="Register endpoint").click()
    expect(page.locator(".messages")).to_contain_text("smollm2-llama")
    page.screenshot(path=str(SHOTS / "curation-endpoint.png"), full_page=True)
    page.get_by_label("Language").select_option("zh-hans")
    expect(page.locator("main")).to_contain_text("添加 OpenAI 兼容端点")
    page.screenshot(path=str(SHOTS / "curation-endpoint-zh.png"), full_page=True)
    entry = ModelEntry.objects.get(name="smollm2-llama")
    assert entry.endpoint.api_key_file == str(secret) and llama_server.api_key not in page.content()

    employee = make_user(Role.EMPLOYEE)
    page.context.clear_cookies()
    login(page, employee.username)
    page.goto("/playground/?model=smollm2-llama&mode=chat&temperature=0&max_new_tokens=24&view=probabilities")
    page.get_by_label("Language").select_option("zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    page.locator("#gen-prompt").fill(PROMPT)
    page.locator("#gen-button").click()
    expect(page.locator("#gen-status")).to_contain_text("完成", timeout=120000)
    # The page says what an endpoint model cannot show, and why.
    expect(page.locator("#gen-notice")).to_be_visible()
    expect(page.locator("#gen-notice")).to_contain_text("注意力")
    tokens = page.locator("#gen-output .tok")
    assert tokens.count() >= 1
    tokens.first.hover()
    expect(page.locator("#token-inspector")).to_contain_text("模型概率")
    alternatives = page.locator("#token-inspector .alternatives li")
    assert 1 <= alternatives.count() <= 5
    expect(page.locator("#token-inspector .alternatives li.chosen")).to_have_count(1)
    page.screenshot(path=str(SHOTS / "playground-endpoint-zh.png"), full_page=True)
    run = PlaygroundRun.objects.get(user=employee)
    assert run.status == RunStatus.DONE and run.prompt == PROMPT and run.completion_tokens == tokens.count()
    expect(page.locator("#prompt-tokens")).to_contain_text("此端点不显示")

    # The saved run keeps the Chinese prompt, and says why there is no attention view.
    page.locator("#run-link a").first.click()
    expect(page.locator(".prompt-text")).to_have_text(PROMPT)
    expect(page.locator("main")).to_contain_text("注意力")
    page.screenshot(path=str(SHOTS / "run-endpoint-zh.png"), full_page=True)
    assert page.watch.errors == [] and page.watch.foreign == []
