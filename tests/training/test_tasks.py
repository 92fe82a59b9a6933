"""Fine-tunes on a real Celery worker process (the configured broker: the filesystem
in embedded mode, Redis in production), training in a real child process."""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from accounts.models import Role
from playground.models import ModelEntry
from tests.factories import make_user
from tests.processes import ROOT, child_env, stop
from tests.training.conftest import pid_alive, wait_final, wait_for
from training import runner, services
from training.artifacts import ensure_local_model
from training.models import FineTuneJob, JobMetric, JobStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def submit(user, *, kind="causal_lm", method="lora", dataset="company-faq", **overrides):
    services.quota_set(user=user, max_concurrent=5, gpu_seconds_per_week=None)
    return services.job_submit(user=user, kind=kind, preset="cpu-quick", method=method,
                               builtin_dataset=dataset, overrides=overrides)


async def assert_answers_in_playground(user, model_name: str):
    """The owner picks the fine-tuned model in the playground and it streams an answer."""
    from tests.playground.helpers import collect, connect, login_cookie

    cookie, _ = await login_cookie(user)
    comm = await connect(cookie)
    await comm.send_json_to({"type": "start", "model": model_name, "mode": "chat",
                             "prompt": "How many days of annual leave do I get?",
                             "params": {"temperature": 0, "max_new_tokens": 8}})
    _, tokens, done = await collect(comm, timeout=120)
    assert done["type"] == "done", done
    assert len(tokens) > 0 and done["text"]
    await comm.disconnect()


def watch_statuses(job_id: int, timeout: float = 180) -> list[str]:
    """Poll the row (as the job page does) and return the distinct statuses seen, in order."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = FineTuneJob.objects.filter(pk=job_id).values_list("status", flat=True).get()
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED):
            return seen
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish; saw {seen}")


async def test_tiny_lora_job_end_to_end_and_its_model_answers_in_the_playground(
        celery_worker, registered_models, model_worker, tiny):
    user = await sync_to_async(make_user)(Role.EMPLOYEE)
    job = await sync_to_async(submit)(user, **tiny)
    seen = await sync_to_async(watch_statuses)(job.pk)
    job = await sync_to_async(FineTuneJob.objects.get)(pk=job.pk)
    assert seen == ["queued", "running", "succeeded"], (seen, job.failure_reason)
    assert job.attempts == 1 and job.device == "cpu" and job.worker_hostname == celery_worker
    assert job.gpu_seconds > 0 and job.wall_seconds >= job.gpu_seconds and job.finished_at >= job.started_at
    metrics = await sync_to_async(list)(JobMetric.objects.filter(job=job).order_by("step"))
    assert [m.step for m in metrics] == [1, 2, 3, 4]
    assert all(m.loss > 0 and m.lr > 0 and m.tokens > 0 for m in metrics)
    for phase in (job.eval_before, job.eval_after):
        assert phase["perplexity"] > 1 and phase["tokens"] > 0 and phase["rows"] == 4
    assert job.eval_after["perplexity"] != job.eval_before["perplexity"], "training changed nothing"
    assert job.result["tokens_per_second"] > 0 and job.child_pid is None
    # The output is in the object store (the default storage), fetched and verified by sha256.
    assert (ensure_local_model(job.output_path) / "adapter_config.json").is_file()

    # The result is a model its owner can pick in the playground, and it answers.
    assert job.registered_model
    await assert_answers_in_playground(user, job.registered_model)


async def test_full_fine_tune_saves_whole_weights_that_answer_in_the_playground(
        celery_worker, registered_models, model_worker, tiny):
    user = await sync_to_async(make_user)(Role.EMPLOYEE)
    job = await sync_to_async(submit)(user, method="full", **{**tiny, "steps": 2})
    job = await sync_to_async(wait_final)(job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.failure_reason
    out = ensure_local_model(job.output_path)
    assert (out / "model.safetensors").is_file() and not (out / "adapter_config.json").exists()
    assert job.eval_after["perplexity"] != job.eval_before["perplexity"], "training changed nothing"
    entry = await sync_to_async(ModelEntry.objects.get)(name=job.registered_model)
    assert entry.owner_id == user.pk and entry.source == job.output_path and entry.adapter == ""
    await assert_answers_in_playground(user, job.registered_model)


def test_classifier_job_end_to_end_reports_accuracy_and_a_confusion_matrix(celery_worker, registered_models, tiny):
    user = make_user(Role.EMPLOYEE)
    job = submit(user, kind="classifier", dataset="sentiment", **{**tiny, "eval_fraction": 0.25})
    job = wait_final(job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.failure_reason
    assert [m.step for m in JobMetric.objects.filter(job=job).order_by("step")] == [1, 2, 3, 4]
    for phase in (job.eval_before, job.eval_after):
        labels, matrix = phase["labels"], phase["confusion"]
        assert len(labels) >= 2 and len(matrix) == len(labels) and all(len(row) == len(labels) for row in matrix)
        assert sum(map(sum, matrix)) == phase["rows"] > 0
        right = sum(matrix[i][i] for i in range(len(labels)))
        assert phase["accuracy"] == round(right / phase["rows"], 4)
    assert (ensure_local_model(job.output_path) / "config.json").is_file()
    assert job.registered_model == ""  # a classifier does not chat

    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(user)
    html = client.get(reverse("training:job", args=[job.pk])).content.decode()
    assert 'id="confusion"' in html and f"{job.eval_after['accuracy']}" in html


def test_cancelling_a_running_job_ends_its_child_and_marks_it_cancelled(celery_worker, registered_models, tiny):
    job = submit(make_user(Role.EMPLOYEE), **{**tiny, "steps": 1000})
    running = wait_for(lambda: FineTuneJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, steps_done__gte=1,
                                                          child_pid__isnull=False).first(), 120, what="training steps")
    pid = running.child_pid
    assert pid_alive(pid)
    services.job_cancel(job_id=job.pk)
    asked = time.monotonic()
    job = wait_final(job.pk, timeout=60)
    assert job.status == JobStatus.CANCELLED, job.failure_reason
    assert time.monotonic() - asked < settings.TRAINING_CANCEL_GRACE_SECONDS + 10
    assert not pid_alive(pid), "the training child outlived its cancelled job"
    assert job.child_pid is None and job.steps_done < 1000 and job.finished_at


def start_worker(name: str, queue: str, log_path: Path, *args: str, **env: str) -> subprocess.Popen:
    log = open(log_path, "a")  # noqa: SIM115  (the process owns it until it exits)
    # Its own session: kill -9 of the group takes the worker, its pool process and the
    # training child at once, like a machine losing power.
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-n", name, "--concurrency", "1", "-Q", queue,
         "--loglevel", "INFO", *args], cwd=ROOT, env=child_env(**env), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)


def parent_pid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().split(")")[-1].split()[1])


def wait_ping(name: str, proc: subprocess.Popen, timeout: float = 60):
    from config.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "worker exited early"
        if app.control.ping(destination=[name], timeout=1):
            return
    raise AssertionError(f"worker {name} did not answer")


def test_kill_9_of_the_worker_mid_job_requeues_it_and_loses_no_other_job(registered_models, settings, tiny):
    queue = f"killtest-{uuid.uuid4().hex[:6]}"
    name = f"{queue}@{socket.gethostname()}"
    settings.TRAINING_QUEUE = queue
    log_path = Path(settings.VAR_DIR) / "test-celery-kill.log"
    log_path.write_text("")
    victim = submit(make_user(Role.EMPLOYEE), **{**tiny, "steps": 25})
    other = submit(make_user(Role.EMPLOYEE), **{**tiny, "steps": 2})
    first = start_worker(name, queue, log_path)
    second = None
    try:
        running = wait_for(lambda: FineTuneJob.objects.filter(pk=victim.pk, status=JobStatus.RUNNING, steps_done__gte=1,
                                                              child_pid__isnull=False).first(), 120, what="first steps")
        child = running.child_pid
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        wait_for(lambda: not pid_alive(child), 10, what="the training child to die with its worker")
        victim.refresh_from_db()
        assert victim.status == JobStatus.RUNNING  # nobody has noticed yet: the row says what it last knew

        second = start_worker(name, queue, log_path)  # the restart
        victim = wait_final(victim.pk, timeout=240)
        other = wait_final(other.pk, timeout=120)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                stop(proc)
    logs = list(victim.logs.values_list("message", flat=True))
    assert any("restarted during attempt 1; requeued" in m for m in logs), logs
    if victim.status == JobStatus.SUCCEEDED:
        assert victim.attempts == 2
        steps = list(JobMetric.objects.filter(job=victim, attempt=2).values_list("step", flat=True))
        assert steps == list(range(1, 26))
    else:
        assert victim.status == JobStatus.FAILED and victim.failure_reason, victim.failure_reason
    assert other.status == JobStatus.SUCCEEDED, other.failure_reason
    assert not FineTuneJob.objects.filter(status=JobStatus.RUNNING).exists()


STALE, BEAT = 8, 1  # seconds: short, so the drill takes seconds, not minutes


def test_kill_9_of_the_pool_process_only_recovers_the_job_within_the_stale_threshold(
        registered_models, settings, tiny, tmp_path):
    """The worker's main process lives on; only the pool process running the task dies.
    Celery beat's periodic recovery requeues the job once its heartbeat is stale (no new
    submission, no restart), and both attempts' device-seconds are counted."""
    queue = f"pooltest-{uuid.uuid4().hex[:6]}"
    name = f"{queue}@{socket.gethostname()}"
    settings.TRAINING_QUEUE = queue
    settings.TRAINING_HEARTBEAT_STALE_SECONDS = STALE
    log_path = Path(settings.VAR_DIR) / "test-celery-pool-kill.log"
    log_path.write_text("")
    job = submit(make_user(Role.EMPLOYEE), **{**tiny, "steps": 8})
    # Beat inside the worker, as `manage.py serve` runs it. Its recovery task goes to the
    # default queue, here this worker's own: the session's worker (on `default`) has the
    # 60 s threshold and would take the task.
    worker = start_worker(name, queue, log_path, "--beat", "-s", str(tmp_path / "beat-schedule"),
                          CELERY_DEFAULT_QUEUE=queue, TRAINING_HEARTBEAT_STALE_SECONDS=str(STALE),
                          TRAINING_HEARTBEAT_SECONDS=str(BEAT))
    try:
        running = wait_for(lambda: FineTuneJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, steps_done__gte=2,
                                                              child_pid__isnull=False).first(), 120, what="first steps")
        child = running.child_pid
        pool = parent_pid(child)
        assert pool != worker.pid and parent_pid(pool) == worker.pid, "expected worker → pool process → child"
        os.kill(pool, signal.SIGKILL)
        killed = time.monotonic()
        last_beat = running.heartbeat_at
        wait_for(lambda: not pid_alive(child), 10, what="the training child to exit with its pool process")

        # Attempt 1 stops being "running" within the stale threshold plus one heartbeat (and
        # some slack for beat, the broker and a CPU shared with other tests).
        moved = wait_for(lambda: FineTuneJob.objects.exclude(status=JobStatus.RUNNING, attempts=1).filter(
            pk=job.pk).first(), STALE + 30, interval=0.2, what="recovery of attempt 1")
        recovered_after = time.monotonic() - killed
        assert recovered_after < STALE + BEAT + 8, recovered_after
        assert worker.poll() is None, "the main process must have lived on"
        assert moved.status in (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED) and moved.attempts <= 2
        job = wait_final(job.pk, timeout=240)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            stop(worker)
    logs = list(job.logs.values_list("message", flat=True))
    assert any("stopped sending heartbeats during attempt 1; requeued" in m for m in logs), logs
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2, (job.status, job.failure_reason, logs)
    assert list(JobMetric.objects.filter(job=job, attempt=2).values_list("step", flat=True)) == list(range(1, 9))
    # Device-seconds add up over attempts: at least both children's own training time,
    # and attempt 1 ran until its last heartbeat before the kill.
    first = JobMetric.objects.filter(job=job, attempt=1).order_by("step").last()
    second = JobMetric.objects.filter(job=job, attempt=2).order_by("step").last()
    assert job.gpu_seconds >= first.elapsed + second.elapsed, (job.gpu_seconds, first.elapsed, second.elapsed)
    assert last_beat is not None


def test_a_superseded_attempt_stops_its_child_at_its_next_heartbeat(celery_worker, registered_models, settings, tiny):
    """Recovery gave the job to a new attempt while the old runner still lived (say its
    heartbeats were delayed): the old runner sees it lost the job and stops its child."""
    job = submit(make_user(Role.EMPLOYEE), **{**tiny, "steps": 1000})
    running = wait_for(lambda: FineTuneJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, steps_done__gte=1,
                                                          child_pid__isnull=False).first(), 120, what="training steps")
    child = running.child_pid
    # Make the heartbeat look stale, as if the runner had gone quiet, and recover.
    FineTuneJob.objects.filter(pk=job.pk).update(heartbeat_at=running.heartbeat_at - timedelta(hours=1),
                                                 params={**running.params, "steps": 2})
    assert runner.jobs_recover_stale() == {job.pk: JobStatus.QUEUED}
    superseded = time.monotonic()
    wait_for(lambda: not pid_alive(child), settings.TRAINING_HEARTBEAT_SECONDS + settings.TRAINING_CANCEL_GRACE_SECONDS
             + 10, interval=0.2, what="the superseded attempt's child to stop")
    assert time.monotonic() - superseded < settings.TRAINING_HEARTBEAT_SECONDS + settings.TRAINING_CANCEL_GRACE_SECONDS + 10
    job = wait_final(job.pk, timeout=120)
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2, job.failure_reason
    logs = list(job.logs.values_list("message", flat=True))
    assert any("attempt 1 stopped" in m and "another attempt" in m for m in logs), logs
