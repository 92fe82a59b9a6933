"""Two posts of one fine-tune form at the same moment (a double click), as two real
requests on two threads with their own database connections: one job, and both
requests are sent to it."""

import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from training import services
from training.models import FineTuneJob

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("round_", range(3))
def test_a_double_click_on_start_fine_tune_makes_one_job(employee, monkeypatch, round_):
    monkeypatch.setattr(services, "job_enqueue", lambda **kw: None)  # no broker needed to count jobs
    services.quota_set(user=employee, max_concurrent=5, gpu_seconds_per_week=None)
    clients = [Client() for _ in range(2)]
    for client in clients:
        client.force_login(employee)
    payload = {"kind": "causal_lm", "preset": "cpu-quick", "method": "lora", "builtin_dataset": "company-faq",
               "submission_token": f"one-form-{round_}"}
    barrier = threading.Barrier(2)
    responses = []

    def click(client):
        try:
            barrier.wait()
            responses.append(client.post(reverse("training:submit"), payload))
        finally:
            connection.close()

    threads = [threading.Thread(target=click, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    job = FineTuneJob.objects.get(user=employee)
    assert [r.status_code for r in responses] == [302, 302]
    assert {r["Location"] for r in responses} == {job.get_absolute_url()}
