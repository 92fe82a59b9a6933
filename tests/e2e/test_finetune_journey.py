"""An employee launches a fine-tune from the browser, watches it live, and compares
the tuned model with its base, on a real Celery worker and a real model worker."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.models import Role
from playground.services import models_provision_defaults
from tests.e2e.helpers import login
from tests.factories import make_team, make_user
from training.models import FineTuneJob, JobStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]
SHOTS = Path(settings.VAR_DIR) / "screenshots"


def test_launch_watch_and_compare(page, celery_worker):
    models_provision_defaults(log=lambda *_: None)
    employee = make_user(Role.EMPLOYEE, team=make_team())
    login(page, employee.username)
    page.get_by_role("link", name="Fine-tunes").click()
    expect(page.get_by_role("heading", name="New fine-tune")).to_be_visible()
    # The form is ready as it stands, and keeps the dataset in step with the kind of job.
    dataset, method = page.get_by_label("Built-in dataset"), page.get_by_label("Method (causal LM)")
    expect(dataset).to_have_value("company-faq")
    page.get_by_label("Sequence classifier").check()
    expect(dataset).to_have_value("sentiment")
    expect(method).to_be_hidden()
    page.get_by_label("…or upload JSONL or CSV").set_input_files(
        files=[{"name": "mine.csv", "mimeType": "text/csv", "buffer": b"text,label\nok,positive\n"}])
    expect(dataset).to_have_value("")
    page.get_by_label("Causal LM fine-tune").check()
    expect(method).to_be_visible()
    page.get_by_label("Built-in dataset").select_option("company-faq")
    assert page.locator('input[name="upload"]').evaluate("el => el.files.length") == 0
    page.get_by_label("Preset").select_option("cpu-quick")
    # The quick preset, made tiny through the advanced fields so the test stays fast.
    page.locator("details.advanced summary").click()
    page.get_by_label("Steps", exact=True).fill("3")
    page.get_by_label("Batch size").fill("2")
    page.get_by_label("Sequence length (tokens)").fill("32")
    page.get_by_role("button", name="Queue fine-tune").click()
    page.wait_for_url(re.compile(r"/training/jobs/\d+/$"))
    job = FineTuneJob.objects.get(user=employee)
    # The page follows the row by itself (HTMX polling), without a reload.
    expect(page.locator("#job-status")).to_have_text("Succeeded", timeout=180000)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.steps_done == 3
    expect(page.locator("#job-step")).to_have_text("3 / 3")
    expect(page.locator(".loss-curve polyline")).to_have_count(1)
    expect(page.locator("#job-eval")).to_contain_text("Perplexity")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "finetune-job.png"), full_page=True)
    # A reload loses nothing.
    page.reload()
    expect(page.locator("#job-status")).to_have_text("Succeeded")
    expect(page.locator("#job-log")).to_contain_text("registered in the playground")

    page.locator("#compare-link").click()
    page.get_by_role("button", name="Generate with both").click()
    expect(page.locator("#status-base")).to_contain_text("Done", timeout=120000)
    expect(page.locator("#status-tuned")).to_contain_text("Done", timeout=120000)
    assert page.locator("#out-base").inner_text().strip()
    assert page.locator("#out-tuned").inner_text().strip()
    page.screenshot(path=str(SHOTS / "finetune-compare.png"), full_page=True)
    assert not page.watch.errors, page.watch.errors
    assert not page.watch.foreign, page.watch.foreign
