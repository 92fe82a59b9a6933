"""The host's resource policy (playground/ml/resources.py): what it derives, and that
the training child really runs with it, read back from the child process itself
(/proc and the kernel's scheduler, and torch.get_num_threads() in the job log)."""

import os
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from playground.ml import resources
from tests.factories import make_user
from tests.training.conftest import wait_final, wait_for
from training import runner, selectors, services
from training.ml.runner import CUDA_OOM_REASON
from training.models import FineTuneJob, JobLog, JobMetric, JobStatus

POLICY_NAMES = {os.SCHED_OTHER: "SCHED_OTHER", os.SCHED_BATCH: "SCHED_BATCH", os.SCHED_IDLE: "SCHED_IDLE"}


# --- the policy -------------------------------------------------------------------------------
def test_defaults_follow_the_cpus_this_process_may_use():
    assert resources.usable_cpus() == len(os.sched_getaffinity(0))
    idle = resources.training_policy(cpus=2)
    assert (idle.threads, idle.priority, idle.passive_wait) == (2, resources.IDLE, True)
    assert resources.training_policy(cpus=8).threads == 8
    # At a priority that time-shares with the worker, the child gets what its decode threads leave.
    assert resources.training_policy(cpus=2, priority=resources.BATCH).threads == 1
    assert resources.training_policy(cpus=8, priority=resources.NORMAL).threads == 4
    assert resources.training_policy(cpus=1, priority=resources.NORMAL).threads == 1
    assert resources.training_policy(cpus=2, threads=3).threads == 3  # an explicit setting wins
    assert resources.training_policy().cuda_memory_fraction == resources.DEFAULT_CUDA_MEMORY_FRACTION
    assert resources.training_policy(cuda_memory_fraction=0.25).cuda_memory_fraction == 0.25
    with pytest.raises(ValueError, match="unknown training priority"):
        resources.training_policy(priority="realtime")


def test_the_child_environment_sets_openmp_before_torch_loads():
    env = resources.training_child_env(resources.training_policy(cpus=2))
    assert env == {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE",
                   "GOMP_SPINCOUNT": "0"}
    spinning = resources.training_child_env(resources.training_policy(cpus=2, passive_wait=False))
    assert "OMP_WAIT_POLICY" not in spinning


# --- the real child ----------------------------------------------------------------------------
def submit(user, **params):
    services.quota_set(user=user, max_concurrent=5, gpu_seconds_per_week=None)
    return services.job_submit(user=user, kind="causal_lm", preset="cpu-quick", method="lora",
                               builtin_dataset="company-faq", overrides=params)


def nice_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rpartition(")")[2].split()[16])  # field 19 of proc(5): nice


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_the_training_child_runs_with_the_policys_threads_and_priority(celery_worker, registered_models, tiny):
    expected = runner.host_training_policy()
    job = submit(make_user(Role.EMPLOYEE), **{**tiny, "steps": 1000})
    # The child reports its threads and scheduler as soon as torch is loaded (before the
    # model: at low priority on a busy host the steps may come much later).
    line = wait_for(lambda: JobLog.objects.filter(job_id=job.pk, message__startswith="training process on").first(),
                    120, what="the training child's start").message
    pid = FineTuneJob.objects.get(pk=job.pk).child_pid
    kernel_name = {resources.IDLE: "SCHED_IDLE", resources.BATCH: "SCHED_BATCH",
                   resources.NORMAL: "SCHED_OTHER"}[expected.priority]
    try:
        # Every thread of the child, the OpenMP team included, is in the policy's class.
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        assert len(tids) > 1
        assert {POLICY_NAMES.get(os.sched_getscheduler(t)) for t in tids} == {kernel_name}
        assert nice_of(pid) == (0 if expected.priority == resources.NORMAL else resources.NICE_BATCH)
        with open(f"/proc/{pid}/environ", "rb") as f:
            environ = dict(item.split(b"=", 1) for item in f.read().split(b"\0") if b"=" in item)
        assert environ[b"OMP_WAIT_POLICY"] == b"PASSIVE" and environ[b"OMP_NUM_THREADS"] == str(expected.threads).encode()
        # The child's own torch.get_num_threads() and scheduler, as it reported them.
        found = re.search(r"\((\d+) CPU threads, (\w+), nice (-?\d+)\)", line)
        assert found, line
        assert (int(found[1]), found[2], int(found[3])) == (expected.threads, kernel_name, nice_of(pid))
    finally:
        services.job_cancel(job_id=job.pk)
    assert wait_final(job.pk, timeout=60).status == JobStatus.CANCELLED


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_cuda_out_of_memory_in_the_child_fails_the_job_with_a_translated_reason(
        monkeypatch, registered_models, tiny):
    # The child (a real process) raises torch.cuda.OutOfMemoryError once torch is up;
    # everything after that is the path a real one takes.
    monkeypatch.setenv("LLM_TEST_TRAINING_FAULT", "cuda_oom")
    monkeypatch.setattr(services, "job_enqueue", lambda **kw: None)  # run it here, not on a worker
    user = make_user(Role.EMPLOYEE)
    job = submit(user, **tiny)
    claimed = runner.job_claim_next(queue_name=job.queue_name, hostname="test-host")
    job = runner.job_execute(job_id=claimed.pk, attempt=claimed.attempts)
    assert job.status == JobStatus.FAILED
    assert job.failure_reason.startswith(CUDA_OOM_REASON) and "OutOfMemoryError" in job.failure_reason
    assert job.result == {"error_code": "cuda_out_of_memory"}
    client = Client()
    client.force_login(user)
    for lang, words in (("en", "ran out of GPU memory"), ("zh-hans", "耗尽了 GPU 显存")):
        client.cookies["django_language"] = lang
        html = client.get(reverse("training:job", args=[job.pk])).content.decode()
        assert 'id="failure-message"' in html and words in html


# --- the page ------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_estimate_follows_recent_steps_and_says_when_the_playground_slows_training(monkeypatch):
    monkeypatch.setattr(services, "job_enqueue", lambda **kw: None)
    user = make_user(Role.EMPLOYEE)
    job = submit(user, steps=20)
    FineTuneJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, attempts=1, steps_done=10,
                                                 started_at=timezone.now())
    job.refresh_from_db()
    # Ten steps: 1 s each at first, then 4 s each while the playground is busy.
    elapsed = [1, 2, 3, 4, 5, 9, 13, 17, 21, 25]
    for step, t in enumerate(elapsed, start=1):
        JobMetric.objects.create(job=job, attempt=1, step=step, loss=1.0, lr=1e-4, elapsed=t)
    metrics = selectors.job_metrics(job=job)
    pace = selectors.job_pace(job=job, metrics=metrics, now=metrics[-1].created_at + timedelta(seconds=1))
    assert pace.slowed and pace.eta_seconds == pytest.approx(4 * 10)  # not the 2.7 s average since the start
    client = Client()
    client.force_login(user)
    for lang, words in (("en", "run at low priority"), ("zh-hans", "低优先级")):
        client.cookies["django_language"] = lang
        html = client.get(reverse("training:progress", args=[job.pk])).content.decode()
        assert 'id="job-priority"' in html and words in html and 'id="job-slowed"' in html
    # A quiet stretch again: no longer slowed.
    for step, t in enumerate([26, 27, 28, 29, 30], start=11):
        JobMetric.objects.create(job=job, attempt=1, step=step, loss=1.0, lr=1e-4, elapsed=t)
    metrics = selectors.job_metrics(job=job)
    FineTuneJob.objects.filter(pk=job.pk).update(steps_done=15)
    job.refresh_from_db()
    pace = selectors.job_pace(job=job, metrics=metrics, now=metrics[-1].created_at)
    assert not pace.slowed and pace.eta_seconds == pytest.approx(5)
