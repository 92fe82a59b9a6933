"""Fixtures for fine-tune tests: tiny parameters so a real job takes seconds."""

import time

import pytest

from training.models import FINAL, FineTuneJob

# 4 steps × batch 2 × 32 tokens: a real LoRA run, in a few seconds on 2 CPU cores.
TINY = {"steps": 4, "batch_size": 2, "seq_len": 32, "eval_fraction": 0.1}


def wait_for(predicate, timeout: float = 120, interval: float = 0.3, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def wait_final(job_id: int, timeout: float = 180) -> FineTuneJob:
    return wait_for(lambda: FineTuneJob.objects.filter(pk=job_id, status__in=FINAL).first(), timeout,
                    what=f"job {job_id} to finish")


def pid_alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead but not yet reaped; count it as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def tiny():
    return dict(TINY)
