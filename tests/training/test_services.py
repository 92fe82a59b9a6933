"""Services: quota (atomic), fairness, cancel, recovery and who may see what."""

import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections
from django.utils import timezone

from accounts.models import Role
from playground.models import ModelEntry
from tests.factories import make_user
from training import runner, selectors, services
from training.models import FineTuneJob, JobStatus

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """These tests look at the DB only; the slot triggers they would send are counted."""
    sent = []
    for module in (services, runner):  # submission (web side) and recovery (runner) both send triggers
        monkeypatch.setattr(module, "job_enqueue", lambda **kw: sent.append(kw))
    return sent


def submit(user, **kw):
    return services.job_submit(user=user, kind="causal_lm", preset="cpu-quick", builtin_dataset="company-faq",
                               overrides={"steps": 2}, **kw)


def test_submit_records_the_job_and_sends_one_trigger(employee, no_broker, settings):
    job = submit(employee)
    assert job.status == JobStatus.QUEUED and job.queue_name == settings.TRAINING_QUEUE
    assert job.params["steps"] == 2 and job.params["batch_size"] == 4 and job.params["method"] == "lora"
    assert no_broker == [{"job_id": job.pk, "queue_name": job.queue_name}]


def test_submission_over_the_concurrent_quota_is_refused(employee):
    services.quota_set(user=employee, max_concurrent=1, gpu_seconds_per_week=None)
    submit(employee)
    with pytest.raises(services.QuotaExceeded, match="your limit is 1"):
        submit(employee)
    assert FineTuneJob.objects.filter(user=employee).count() == 1


def test_submission_over_the_weekly_gpu_seconds_is_refused(employee):
    services.quota_set(user=employee, max_concurrent=5, gpu_seconds_per_week=100)
    done = submit(employee)
    FineTuneJob.objects.filter(pk=done.pk).update(status=JobStatus.SUCCEEDED, started_at=timezone.now(), gpu_seconds=150)
    with pytest.raises(services.QuotaExceeded, match="used 150 of your 100 GPU-seconds"):
        submit(employee)
    # The dashboards read the same quota use (one definition in training.selectors).
    use = selectors.quota_use(user=employee)
    assert (use.gpu_seconds_used, use.gpu_seconds_limit, use.percent, use.gpu_seconds_spent) == (150.0, 100, 150, True)
    assert (use.active_jobs, use.max_concurrent, use.concurrency_full) == (0, 5, False)
    # Usage older than 7 days no longer counts.
    FineTuneJob.objects.filter(pk=done.pk).update(started_at=timezone.now() - timedelta(days=8))
    submit(employee)
    use = selectors.quota_use(user=employee)
    assert (use.gpu_seconds_used, use.active_jobs, use.gpu_seconds_spent) == (0.0, 1, False)


def test_quota_is_enforced_atomically_under_concurrent_submissions(employee):
    services.quota_set(user=employee, max_concurrent=2, gpu_seconds_per_week=None)
    results, barrier = [], threading.Barrier(6)

    def one():
        barrier.wait()
        try:
            submit(employee)
            results.append("ok")
        except services.QuotaExceeded:
            results.append("refused")
        finally:
            close_old_connections()

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok"] * 2 + ["refused"] * 4
    assert FineTuneJob.objects.filter(user=employee, status=JobStatus.QUEUED).count() == 2


def test_fair_order_puts_the_lighter_user_first(team, settings):
    heavy, light = make_user(Role.EMPLOYEE, team=team), make_user(Role.EMPLOYEE, team=team)
    for user in (heavy, light):
        services.quota_set(user=user, max_concurrent=10, gpu_seconds_per_week=None)
    past = submit(heavy)
    FineTuneJob.objects.filter(pk=past.pk).update(status=JobStatus.SUCCEEDED, started_at=timezone.now(), gpu_seconds=500)
    h1, h2 = submit(heavy), submit(heavy)
    l1 = submit(light)  # submitted last, but its owner used nothing this week
    assert list(selectors.fair_queue(queue_name=settings.TRAINING_QUEUE)) == [l1, h1, h2]
    assert selectors.queue_position(job=l1) == 1 and selectors.queue_position(job=h2) == 3
    claimed = runner.job_claim_next(queue_name=settings.TRAINING_QUEUE, hostname="w1")
    assert claimed == l1 and claimed.status == JobStatus.RUNNING and claimed.attempts == 1
    assert runner.job_claim_next(queue_name=settings.TRAINING_QUEUE, hostname="w1") == h1
    # A job on another queue is not claimed by this queue's slot.
    assert runner.job_claim_next(queue_name="gpu7", hostname="w1") is None


def test_fairness_alternates_between_two_employees(team, settings):
    a, b = make_user(Role.EMPLOYEE, team=team), make_user(Role.EMPLOYEE, team=team)
    for user in (a, b):
        services.quota_set(user=user, max_concurrent=10, gpu_seconds_per_week=None)
    jobs_a = [submit(a) for _ in range(3)]  # a queues three first...
    jobs_b = [submit(b) for _ in range(2)]  # ...b two after
    order = []
    while (job := runner.job_claim_next(queue_name=settings.TRAINING_QUEUE, hostname="w")) is not None:
        order.append(job.user_id)
        runner.job_finish(job_id=job.pk, attempt=job.attempts, status=JobStatus.SUCCEEDED, run_seconds=10, gpu_seconds=10)
    assert order == [a.pk, b.pk, a.pk, b.pk, a.pk], "FIFO would have run a, a, a, b, b"
    assert len(jobs_a) + len(jobs_b) == 5


def test_cancel_a_queued_job_is_immediate_and_a_running_one_sets_the_flag(employee, settings):
    services.quota_set(user=employee, max_concurrent=5, gpu_seconds_per_week=None)
    queued = submit(employee)
    running = submit(employee)
    services.job_cancel(job_id=queued.pk)
    queued.refresh_from_db()
    assert queued.status == JobStatus.CANCELLED and queued.finished_at
    claimed = runner.job_claim_next(queue_name=settings.TRAINING_QUEUE, hostname="w")
    assert claimed == running
    services.job_cancel(job_id=running.pk)
    running.refresh_from_db()
    assert running.status == JobStatus.RUNNING and running.cancel_requested
    with pytest.raises(services.JobNotCancellable):
        services.job_cancel(job_id=queued.pk)


def test_stale_attempt_cannot_overwrite_a_newer_one(employee, settings):
    job = submit(employee)
    first = runner.job_claim_next(queue_name=settings.TRAINING_QUEUE, hostname="w1")
    runner.worker_startup_recover(hostname="w1")  # w1 restarted: requeued
    second = runner.job_claim_next(queue_name=settings.TRAINING_QUEUE, hostname="w2")
    assert second.pk == job.pk and second.attempts == 2
    assert runner.job_finish(job_id=job.pk, attempt=first.attempts, status=JobStatus.FAILED, reason="late") is None
    runner.job_progress_record(job_id=job.pk, attempt=1, event={"type": "progress", "step": 1, "steps": 2, "loss": 9.0,
                                                                  "lr": 0.1}, elapsed=1)
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.steps_done == 0 and not job.metrics.exists()


def test_recovery_requeues_then_fails_with_a_reason(employee, settings, no_broker):
    settings.TRAINING_MAX_ATTEMPTS = 2
    job = submit(employee)
    runner.job_claim_next(queue_name=settings.TRAINING_QUEUE, hostname="dead@host")
    assert runner.worker_startup_recover(hostname="dead@host") == {job.pk: JobStatus.QUEUED}
    assert len(no_broker) == 2  # the submission's trigger and the requeue's
    runner.job_claim_next(queue_name=settings.TRAINING_QUEUE, hostname="other@host")
    # A different worker starting does not touch a job with a fresh heartbeat...
    assert runner.worker_startup_recover(hostname="third@host") == {}
    # ...but a stale heartbeat is recovered by anyone; attempts are used up, so it fails.
    FineTuneJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert runner.worker_startup_recover(hostname="third@host") == {job.pk: JobStatus.FAILED}
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "gave up after 2 attempt(s)" in job.failure_reason
    assert "stopped sending heartbeats" in job.failure_reason


def test_visibility_and_cancel_rights(team):
    owner, other = make_user(Role.EMPLOYEE, team=team), make_user(Role.EMPLOYEE, team=team)
    manager, admin = make_user(Role.MANAGER), make_user(Role.ADMIN)
    team.managers.add(manager)
    job = submit(owner)
    assert selectors.job_visible_to(user=owner, job=job) and selectors.job_cancellable_by(user=owner, job=job)
    assert not selectors.job_visible_to(user=other, job=job) and not selectors.job_cancellable_by(user=other, job=job)
    assert selectors.job_visible_to(user=manager, job=job) and not selectors.job_cancellable_by(user=manager, job=job)
    assert selectors.job_visible_to(user=admin, job=job) and selectors.job_cancellable_by(user=admin, job=job)


def test_bad_parameters_are_refused_before_queueing(employee):
    from training.params import ParamsInvalid

    with pytest.raises(ParamsInvalid) as exc:
        services.job_submit(user=employee, kind="causal_lm", preset="cpu-quick", builtin_dataset="company-faq",
                            overrides={"steps": 0, "learning_rate": "fast"})
    assert set(exc.value.errors) == {"steps", "learning_rate"}
    assert not FineTuneJob.objects.exists()


def _finish_with_adapter(job, settings, tmp_path, *, adapter_ok: bool):
    claimed = runner.job_claim_next(queue_name=settings.TRAINING_QUEUE, hostname="w1")
    out = tmp_path / f"job-{job.pk}"
    out.mkdir()
    if adapter_ok:
        (out / "adapter_config.json").write_text("{}")
    return runner.job_finish(job_id=job.pk, attempt=claimed.attempts, status=JobStatus.SUCCEEDED,
                               result={"tokens_per_second": 1.0}, run_seconds=1.0, output_path=str(out))


def test_a_succeeded_job_is_in_the_playground_the_moment_it_reads_succeeded(employee, settings, tmp_path,
                                                                          registered_models):
    job = submit(employee)
    _finish_with_adapter(job, settings, tmp_path, adapter_ok=True)
    row = FineTuneJob.objects.values("status", "registered_model").get(pk=job.pk)
    assert row["status"] == JobStatus.SUCCEEDED and row["registered_model"] == f"ft-{job.pk}-{employee.username}"
    entry = ModelEntry.objects.get(name=row["registered_model"])
    assert entry.owner == employee and entry.adapter.endswith(f"job-{job.pk}") and entry.base.name == job.base_model


def test_a_registration_failure_leaves_the_job_succeeded_and_says_why(employee, settings, tmp_path,
                                                                      registered_models):
    job = submit(employee)
    _finish_with_adapter(job, settings, tmp_path, adapter_ok=False)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.registered_model == "" and job.finished_at
    assert not ModelEntry.objects.filter(owner=employee).exists()
    assert job.logs.filter(message__startswith="could not register the model in the playground").exists()


def test_device_seconds_of_an_interrupted_attempt_stay_counted(employee, settings):
    """Attempt 1 dies after its heartbeats recorded 30 s; a new claim and an interrupted
    finish keep them (the runner adds each attempt's seconds on top)."""
    services.quota_set(user=employee, max_concurrent=5, gpu_seconds_per_week=None)
    job = submit(employee)
    first = runner.job_claim_next(queue_name=settings.TRAINING_QUEUE, hostname="w")
    assert runner.job_heartbeat(job_id=job.pk, attempt=first.attempts, gpu_seconds=30.0)
    FineTuneJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert runner.jobs_recover_stale() == {job.pk: JobStatus.QUEUED}
    second = runner.job_claim_next(queue_name=settings.TRAINING_QUEUE, hostname="w")
    assert second.attempts == 2 and second.gpu_seconds == 30.0
    runner.job_fail_interrupted(job_id=job.pk, attempt=2, reason="time limit")
    assert FineTuneJob.objects.get(pk=job.pk).gpu_seconds == 30.0
    assert selectors.usage_seconds(user=employee) == 30.0
