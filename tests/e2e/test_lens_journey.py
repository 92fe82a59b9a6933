"""The layer view and the switch-off panel in the real browser, in English and Chinese: the grid
draws and opens on the last position, a click opens a cell's details, and the lesson's preset
gives the number its pinned question expects. Screenshots go to var/screenshots/."""

import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from playwright.sync_api import expect

from accounts.models import Role
from playground.services import models_provision_defaults
from tests.e2e.helpers import login
from tests.factories import make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]
SHOTS = Path(settings.VAR_DIR) / "screenshots"
COURSE = Path(settings.BASE_DIR) / "courseapp/content/how-llms-work"


def _question(quiz: str, slug: str) -> dict:
    questions = yaml.safe_load((COURSE / quiz).read_text(encoding="utf-8"))["questions"]
    return next(q for q in questions if q["slug"] == slug)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_grid_details_and_a_preset_in_both_languages(page, language):
    models_provision_defaults(log=lambda *_: None)
    SHOTS.mkdir(parents=True, exist_ok=True)
    login(page, make_user(Role.EMPLOYEE).username)
    page.goto("/playground/")
    page.get_by_label("Language").select_option(language)
    expect(page.locator("html")).to_have_attribute("lang", language)

    page.goto("/playground/lens/")  # a bare visit opens on the lesson 3 example, following " Paris"
    expect(page.locator("#lens[data-drawn=true]")).to_be_attached(timeout=90000)
    assert page.locator("#lens-grid .lens-cell").count() == 30 * 5
    # It opens on the last position, final layer: " Paris", first top-1 at the layer the lesson asks for.
    selected = page.locator("#lens-grid .lens-cell.selected")
    expect(selected).to_have_attribute("data-pos", "4")
    expect(selected).to_have_attribute("data-layer", "29")
    first = _question("lessons/03-tokens-embeddings-hidden-states/quiz.yaml", "q10-paris-first-layer")["answer"]
    expect(page.locator(".lens-pick-first")).to_contain_text(str(first))
    expect(page.locator(".lens-detail h3")).to_contain_text("29")
    if language == "zh-hans":
        expect(page.locator("#lens")).to_contain_text("逐层查看")
    # A click on another cell opens its details.
    page.locator('#lens-grid .lens-cell[data-layer="20"][data-pos="2"]').click()
    expect(page.locator(".lens-detail h3")).to_contain_text("20")
    assert page.locator(".lens-detail .lens-top5 li").count() == 5
    page.screenshot(path=str(SHOTS / f"lens-grid-{language}.png"), full_page=True)

    # The lesson's preset: head 13.8 off, P(" animal") as lesson 2's pinned question computes it.
    page.locator('.lens-preset[data-preset="head-13-8"]').click()
    expect(page.locator("#lens[data-ablated=true]")).to_be_attached(timeout=90000)
    change = page.locator(".lens-change")
    after = 100 * float(change.get_attribute("data-after"))
    expected = _question("lessons/02-transformer-attention/quiz.yaml", "q11-switch-off-13-8")
    assert abs(after - expected["answer"]) <= expected["tolerance"]
    assert re.search(r"48\.\d\d% → 52\.\d\d%", change.inner_text())
    expect(page.locator("#lens[data-drawn=true]")).to_be_attached(timeout=90000)  # the new text's grid too
    page.screenshot(path=str(SHOTS / f"lens-ablation-{language}.png"), full_page=True)
    assert page.watch.foreign == []
    assert page.watch.errors == []


def test_lesson_three_embeds_the_layer_view(page):
    from courseapp.models import Lesson
    from courseapp.services import course_seed_builtin, lesson_complete

    models_provision_defaults(log=lambda *_: None)
    course = course_seed_builtin(log=lambda *_: None)
    user = make_user(Role.EMPLOYEE)
    for done in ("01-why-llms",):
        lesson_complete(user=user, lesson=Lesson.objects.get(course=course, slug=done))
    login(page, user.username)
    page.goto(f"/learn/{course.slug}/lessons/03-tokens-embeddings-hidden-states/")
    frame_element = page.locator("iframe.tryit-embed").last
    frame_element.scroll_into_view_if_needed()
    frame = frame_element.content_frame
    expect(frame.locator("#lens[data-drawn=true]")).to_be_attached(timeout=90000)
    expect(frame.locator(".lens-pick-first")).to_contain_text("29")
    frame_element.screenshot(path=str(SHOTS / "lesson-embedded-lens.png"))
    assert page.watch.errors == []


def test_the_compare_page_shows_a_fine_tune_beside_its_base(page, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from playground.services import model_register_finetune
    from tests.playground.test_finetuned_models import make_adapter

    models_provision_defaults(log=lambda *_: None)
    owner = make_user(Role.EMPLOYEE)
    base = settings.LLM_DEFAULT_MODELS["causal_lm"]
    source = Path(settings.LLM_MODEL_DIR) / base
    make_adapter(AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32).eval(), tmp_path / "adapter")
    model_register_finetune(owner=owner, name="my-tune", display_name="My tune", base_name=base,
                            adapter_path=str(tmp_path / "adapter"))
    login(page, owner.username)
    page.goto(f"/playground/compare/?a={base}&b=my-tune")
    page.locator("#compare-prompt").fill("The capital of France is")
    page.locator("#compare-lens-go").click()
    frame = page.locator("#compare-lens-frame").content_frame
    expect(frame.locator("#lens[data-drawn=true]")).to_be_attached(timeout=120000)
    assert frame.locator("#lens-grid-b .lens-cell").count() == 30 * 5
    assert frame.locator("#lens-grid .lens-cell.differs").count() > 0, "the adapter changes some layer's top-1"
    assert frame.locator(".lens-detail").count() == 2  # the same cell, on both models
    page.locator("#compare-lens").screenshot(path=str(SHOTS / "lens-compare.png"))
    assert page.watch.errors == []
