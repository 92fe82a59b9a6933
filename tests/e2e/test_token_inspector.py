"""The token inspector shows the model's probability and the sampled one side by side,
and marks the alternatives that top-p filtered out, in English and in Chinese."""

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


def test_inspector_marks_filtered_alternatives(page):
    models_provision_defaults(log=lambda *_: None)
    employee = make_user(Role.EMPLOYEE, team=make_team())
    login(page, employee.username)
    SHOTS.mkdir(parents=True, exist_ok=True)
    # A tiny nucleus keeps only the favourite: the other four alternatives are filtered out.
    url = ("/playground/?model=smollm2-135m-instruct&mode=completion&view=probabilities"
           "&prompt=The+three+primary+colours+are&temperature=1.0&top_k=0&top_p=0.01&max_new_tokens=1&seed=42")
    for lang, legend, filtered in (("en", "q: probability when sampling", "filtered out"),
                                   ("zh-hans", "q：实际采样时的概率", "已被过滤")):
        if lang != "en":
            page.get_by_label("Language").select_option(lang)
            expect(page.locator("html")).to_have_attribute("lang", lang)
        page.goto(url)
        page.locator("#gen-button").click()
        expect(page.locator("#gen-output .tok").first).to_be_visible(timeout=60000)
        page.locator("#gen-output .tok").first.hover()
        inspector = page.locator("#token-inspector")
        expect(inspector).to_contain_text(legend)
        rows = inspector.locator(".alternatives li")
        expect(rows).to_have_count(5)
        expect(inspector.locator(".alternatives li.filtered")).to_have_count(4)
        expect(rows.nth(0)).not_to_have_class("filtered")
        expect(rows.nth(1)).to_contain_text(filtered)
        assert inspector.locator(".alternatives .bar-sampled").count() == 5
        inspector.screenshot(path=str(SHOTS / f"token-inspector-{lang}.png"))
