"""The heatmap, bertviz's head view and its model view render in the real browser,
contacting no host but ours, with no console errors (CSP violations included)."""

from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.models import Role
from playground.services import models_provision_defaults
from tests.e2e.helpers import login
from tests.factories import make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]
# Screenshots go to var/ (the committed ones in docs/screenshots/ were copied from here).
DOCS = Path(settings.VAR_DIR) / "screenshots"


def test_heatmap_head_view_and_model_view(page):
    models_provision_defaults(log=lambda *_: None)
    user = make_user(Role.EMPLOYEE)
    login(page, user.username)
    DOCS.mkdir(parents=True, exist_ok=True)

    page.goto("/playground/attention/?view=heatmap&model=smollm2-135m-instruct"
              "&text=The+animal+didn%27t+cross+the+street+because+it+was+too+tired.")
    expect(page.locator("#attention[data-drawn=true]")).to_be_attached(timeout=60000)
    expect(page.locator("#att-status")).to_contain_text("Layer 0")
    page.get_by_label("Layer").select_option("3")
    page.get_by_label("Head").select_option("1")
    expect(page.locator("#att-status")).to_contain_text("Layer 3, head 1")
    page.locator("#att-canvas").hover(position={"x": 130, "y": 130})
    expect(page.locator("#att-cell")).to_contain_text("→")
    page.screenshot(path=str(DOCS / "attention-heatmap.png"), full_page=True)

    for view in ("head", "model"):
        page.get_by_role("link", name=f"bertviz {view} view").click()
        expect(page.locator("#bertviz-root svg").first).to_be_attached(timeout=60000)
        assert page.locator("#bertviz-root svg text").count() > 5
        page.screenshot(path=str(DOCS / f"attention-bertviz-{view}.png"), full_page=True)

    assert page.watch.foreign == []
    assert page.watch.errors == []


def test_self_attention_lesson_embeds_a_live_heatmap(page):
    from courseapp.models import Lesson
    from courseapp.services import course_seed_builtin, lesson_complete

    models_provision_defaults(log=lambda *_: None)
    course = course_seed_builtin(log=lambda *_: None)
    user = make_user(Role.EMPLOYEE)
    for done in ("01-why-llms", "03-tokens-embeddings-hidden-states"):  # attention comes after tokens
        lesson_complete(user=user, lesson=Lesson.objects.get(course=course, slug=done))
    login(page, user.username)
    page.goto(f"/learn/{course.slug}/lessons/02-transformer-attention/")
    frame_element = page.locator("iframe.tryit-embed").first
    frame_element.scroll_into_view_if_needed()
    frame = frame_element.content_frame
    expect(frame.locator("#attention[data-drawn=true]")).to_be_attached(timeout=60000)
    expect(frame.locator("#att-status")).to_contain_text("Layer 13, head 8")  # the lesson's try-it opens on the it → animal head
    frame_element.screenshot(path=str(DOCS / "lesson-embedded-heatmap.png"))
    assert page.watch.foreign == []
    assert page.watch.errors == []


def test_a_tryit_opens_the_heatmap_on_its_layer_and_head(page):
    """The lesson's try-it names layer 2, head 1: the embed and the attention page open there,
    and the embed is as tall as its matrix (no clipped rows)."""
    from tests.courseapp.factories import make_course

    models_provision_defaults(log=lambda *_: None)
    body = ("# Heads\n\nHead 1 of layer 2 links each word to the next.\n\n```tryit\nlabel: \"One head\"\n"
            "model: minilm-l6-v2\nview: attention\nprompt: \"The animal didn't cross the street because it was "
            "too tired, and then it slept for a very long time\"\nlayer: 2\nhead: 1\n```\n")
    course = make_course(lessons=1, quizzes=False, body=body)
    login(page, make_user(Role.EMPLOYEE).username)
    page.goto(f"/learn/{course.slug}/lessons/m1-l1/")
    frame_element = page.locator("iframe.tryit-embed")
    frame_element.scroll_into_view_if_needed()
    frame = frame_element.content_frame
    expect(frame.locator("#attention[data-drawn=true]")).to_be_attached(timeout=60000)
    expect(frame.locator("#att-layer")).to_have_value("2")
    expect(frame.locator("#att-head")).to_have_value("1")
    expect(frame.locator("#att-status")).to_contain_text("Layer 2, head 1")
    page.wait_for_function("() => { const f = document.querySelector('iframe.tryit-embed');"
                           " return f.clientHeight >= f.contentDocument.body.scrollHeight; }")
    assert frame_element.bounding_box()["width"] > 600  # the text's width, not a side column
    frame_element.screenshot(path=str(DOCS / "lesson-tryit-layer-head.png"))

    page.get_by_role("link", name="Open in the attention view").click()
    expect(page.locator("#attention[data-drawn=true]")).to_be_attached(timeout=60000)
    expect(page.locator("#att-layer")).to_have_value("2")
    expect(page.locator("#att-head")).to_have_value("1")
    assert page.watch.foreign == []
    assert page.watch.errors == []
