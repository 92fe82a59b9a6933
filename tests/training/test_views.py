"""Fine-tune pages: submit with presets, line-numbered upload errors, privacy, cancel, backend."""

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from playground.models import ModelEntry, ModelKind
from tests.factories import make_user
from training import runner, services
from training.models import Dataset, FineTuneJob, JobMetric, JobStatus

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    sent = []
    for module in (services, runner):  # submission (web side) and recovery (runner) both send triggers
        monkeypatch.setattr(module, "job_enqueue", lambda **kw: sent.append(kw))
    return sent


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_job(client, **data):
    payload = {"kind": "causal_lm", "preset": "cpu-quick", "method": "lora", "builtin_dataset": "company-faq"}
    payload.update(data)
    return client.post(reverse("training:submit"), payload)


def test_index_shows_the_form_and_presets(employee):
    response = client_for(employee).get(reverse("training:index"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Quick CPU demo" in html and "GPU standard" in html and "Company FAQ" in html


def test_builtin_datasets_are_named_in_the_page_language(employee):
    client = client_for(employee)
    client.cookies["django_language"] = "zh-hans"
    html = client.get(reverse("training:index")).content.decode()
    assert "公司常见问题（问答）" in html and "客户反馈情感分类" in html
    assert "Company FAQ" not in html


def test_submit_with_a_builtin_dataset_queues_and_redirects(employee, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_job(client_for(employee), steps="3")
    job = FineTuneJob.objects.get(user=employee)
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert job.status == JobStatus.QUEUED and job.params["steps"] == 3 and job.builtin_dataset == "company-faq"


def test_bad_upload_is_rejected_with_line_numbers(employee):
    rows = [json.dumps({"prompt": f"q{i}", "response": f"a{i}"}) for i in range(10)]
    rows[2] = '{"prompt": "q2"}'
    rows[7] = "not json"
    upload = SimpleUploadedFile("faq.jsonl", "\n".join(rows).encode(), content_type="application/json")
    response = post_job(client_for(employee), builtin_dataset="", upload=upload)
    assert response.status_code == 400
    html = response.content.decode()
    assert "line 3: missing the &#x27;response&#x27; field" in html
    assert "line 8: not valid JSON" in html
    assert not FineTuneJob.objects.exists() and not Dataset.objects.exists()


def test_good_upload_is_stored_and_used(employee, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    csv = "text,label\n" + "".join(f"comment {i},{'good' if i % 2 else 'bad'}\n" for i in range(12))
    upload = SimpleUploadedFile("mine.csv", csv.encode(), content_type="text/csv")
    response = post_job(client_for(employee), kind="classifier", builtin_dataset="", upload=upload)
    assert response.status_code == 302
    job = FineTuneJob.objects.get(user=employee)
    assert job.dataset.rows == 12 and job.dataset.labels == ["bad", "good"] and job.method == "full"
    assert job.base_model == "minilm-l6-v2"


def test_over_quota_submission_shows_the_message(employee):
    services.quota_set(user=employee, max_concurrent=1, gpu_seconds_per_week=None)
    client = client_for(employee)
    assert post_job(client).status_code == 302
    response = post_job(client)
    assert response.status_code == 400 and "your limit is 1" in response.content.decode()
    assert FineTuneJob.objects.filter(user=employee).count() == 1


def test_another_employee_can_neither_see_nor_cancel(team):
    owner, other = make_user(Role.EMPLOYEE, team=team), make_user(Role.EMPLOYEE, team=team)
    job = services.job_submit(user=owner, kind="causal_lm", preset="cpu-quick", builtin_dataset="company-faq")
    intruder = client_for(other)
    for name in ("training:job", "training:progress"):
        assert intruder.get(reverse(name, args=[job.pk])).status_code == 404
    assert intruder.post(reverse("training:cancel", args=[job.pk])).status_code == 404
    assert str(job.pk) not in intruder.get(reverse("training:index")).content.decode().split("My fine-tunes")[1]
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and not job.cancel_requested
    # The owner can.
    mine = client_for(owner)
    assert mine.get(reverse("training:job", args=[job.pk])).status_code == 200
    assert mine.post(reverse("training:cancel", args=[job.pk])).status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED


def test_job_page_polls_while_active_and_draws_the_loss_curve(employee, settings):
    job = services.job_submit(user=employee, kind="causal_lm", preset="cpu-quick", builtin_dataset="company-faq")
    client = client_for(employee)
    html = client.get(reverse("training:job", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in html and "Position in the queue: 1" in html
    claimed = runner.job_claim_next(queue_name=settings.TRAINING_QUEUE, hostname="w")
    for step, loss in enumerate([3.0, 2.5, 2.0], start=1):
        runner.job_progress_record(job_id=job.pk, attempt=claimed.attempts, elapsed=step, event={
            "type": "progress", "step": step, "steps": 24, "loss": loss, "lr": 1e-4, "tokens": 100})
    html = client.get(reverse("training:progress", args=[job.pk])).content.decode()
    assert "<polyline" in html and "3 / 24" in html and "ETA" in html and "<script" not in html
    # Labelled axes: loss from 3 to 2, steps 1 to 24; after 3 of 24 steps the line stops early.
    ticks = re.findall(r'<text class="loss-tick"[^>]*>([^<]+)</text>', html)
    assert ticks == ["3", "2.5", "2", "1", "12", "24"], ticks
    last_x = float(re.search(r'points="[^"]* ([\d.]+),[\d.]+"', html).group(1))
    assert last_x < 600 / 4
    assert JobMetric.objects.filter(job=job).count() == 3
    runner.job_finish(job_id=job.pk, attempt=claimed.attempts, status=JobStatus.FAILED, reason="out of memory")
    html = client.get(reverse("training:progress", args=[job.pk])).content.decode()
    assert "hx-trigger" not in html and "out of memory" in html


def test_classifier_page_shows_accuracy_and_confusion_matrix(employee, settings):
    job = services.job_submit(user=employee, kind="classifier", preset="cpu-quick", builtin_dataset="sentiment")
    claimed = runner.job_claim_next(queue_name=settings.TRAINING_QUEUE, hostname="w")
    runner.job_progress_record(job_id=job.pk, attempt=claimed.attempts, elapsed=1, event={
        "type": "eval", "phase": "after",
        "metrics": {"accuracy": 0.75, "confusion": [[3, 1], [0, 4]], "labels": ["neg", "pos"], "rows": 8}})
    html = client_for(employee).get(reverse("training:job", args=[job.pk])).content.decode()
    assert "0.75" in html and 'id="confusion"' in html and "<td>3</td><td>1</td>" in html


def test_backend_page_is_for_admins_and_edits_quotas(employee, admin_user, monkeypatch):
    from training import selectors

    monkeypatch.setattr(selectors, "celery_workers", lambda timeout=1.0: {"gpu0@host": {"active": 1, "queues": ["gpu0"]}})
    services.job_submit(user=employee, kind="causal_lm", preset="cpu-quick", builtin_dataset="company-faq")
    assert client_for(employee).get(reverse("training:backend")).status_code == 403
    admin = client_for(admin_user)
    html = admin.get(reverse("training:backend")).content.decode()
    assert "gpu0@host" in html and employee.username in html and 'id="queued-jobs"' in html
    response = admin.post(reverse("training:quota", args=[employee.pk]),
                          {"max_concurrent": "3", "gpu_seconds_per_week": "600"})
    assert response.status_code == 302
    quota = services.quota_for(employee)
    assert quota.effective_max_concurrent == 3 and quota.effective_gpu_seconds_per_week == 600


def test_compare_page_needs_a_registered_model(employee, manager):
    job = services.job_submit(user=employee, kind="causal_lm", preset="cpu-quick", builtin_dataset="company-faq")
    client = client_for(employee)
    assert client.get(reverse("training:compare", args=[job.pk])).status_code == 404
    FineTuneJob.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED, registered_model="ft-1-x")
    ModelEntry.objects.create(name="ft-1-x", display_name="ft", kind=ModelKind.CAUSAL_LM, source="/nowhere",
                              owner=employee)
    html = client.get(reverse("training:compare", args=[job.pk])).content.decode()
    assert 'data-tuned="ft-1-x"' in html and 'data-base="smollm2-135m-instruct"' in html and "js/compare.js" in html
    assert 'id="compare-link"' in client.get(reverse("training:job", args=[job.pk])).content.decode()
    # The manager sees the job but may not use the employee's model: no button, and 403 behind it.
    boss = client_for(manager)
    page = boss.get(reverse("training:job", args=[job.pk]))
    assert page.status_code == 200 and 'id="compare-link"' not in page.content.decode()
    assert "only the person who trained it can use it" in page.content.decode()
    assert boss.get(reverse("training:compare", args=[job.pk])).status_code == 403


def test_the_form_carries_a_fresh_submission_token_each_time(employee):
    client = client_for(employee)
    tokens = [re.search(r'name="submission_token" value="([^"]+)"',
                        client.get(reverse("training:index")).content.decode()).group(1) for _ in range(2)]
    assert tokens[0] != tokens[1] and all(len(t) >= 24 for t in tokens)


def test_posting_one_form_twice_makes_one_job(employee):
    client = client_for(employee)
    first = post_job(client, submission_token="tok-1")
    second = post_job(client, submission_token="tok-1")
    job = FineTuneJob.objects.get(user=employee)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == job.get_absolute_url()
    assert post_job(client, submission_token="tok-2").status_code == 302  # a new form is a new job
    assert FineTuneJob.objects.filter(user=employee).count() == 2


def test_a_valid_upload_refused_by_the_quota_saves_nothing(employee, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    services.quota_set(user=employee, max_concurrent=1, gpu_seconds_per_week=None)
    client = client_for(employee)
    assert post_job(client).status_code == 302
    csv = "text,label\n" + "".join(f"comment {i},{'good' if i % 2 else 'bad'}\n" for i in range(12))
    upload = SimpleUploadedFile("mine.csv", csv.encode(), content_type="text/csv")
    response = post_job(client, kind="classifier", builtin_dataset="", upload=upload)
    assert response.status_code == 400 and "your limit is 1" in response.content.decode()
    assert not Dataset.objects.exists()
    assert not [p for p in tmp_path.rglob("*") if p.is_file()], "the refused upload's file was kept"
