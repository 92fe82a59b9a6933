"""Parent side of a training run: start the child, relay its events, stop it.

Django-free and torch-free: the Celery task imports this, and the worker's parent
process must never load torch or touch CUDA. The caller supplies callbacks for
events, cancel checks and heartbeats (the task writes them to the DB).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .child import CUDA_OUT_OF_MEMORY, EVENT_PREFIX, EXIT_CANCELLED, EXIT_OK

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent

SUCCEEDED, FAILED, CANCELLED, TIMED_OUT = "succeeded", "failed", "cancelled", "timed_out"
SUPERSEDED = "superseded"  # the job was given to another attempt (recovery requeued or failed it)
# Stored in English with the job; the page shows its translation (training.selectors.FAILURE_MESSAGES).
CUDA_OOM_REASON = ("The fine-tune ran out of GPU memory within its share of the device; "
                   "the playground kept its own.")


@dataclass
class Outcome:
    status: str  # SUCCEEDED, FAILED, CANCELLED, TIMED_OUT or SUPERSEDED
    reason: str = ""
    result: dict | None = None
    exit_code: int | None = None
    error_code: str = ""  # from the child's error event (CUDA_OUT_OF_MEMORY), for a translated message


class TrainingChild:
    """One `python -m training.ml.child` process and a thread that reads its events."""

    def __init__(self, *, config: dict, rows: list[dict], stderr_path: Path, env: dict | None = None):
        self.stderr_path = Path(stderr_path)
        self.stderr_path.parent.mkdir(parents=True, exist_ok=True)
        self._stderr = open(self.stderr_path, "w")  # noqa: SIM115  (closed in wait())
        child_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        child_env.pop("DJANGO_SETTINGS_MODULE", None)  # the child is Django-free
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "training.ml.child"], cwd=PROJECT_ROOT, env=child_env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True, bufsize=1)
        self.events: queue.Queue = queue.Queue()
        self.proc.stdin.write(json.dumps({"config": config, "rows": rows}) + "\n")
        self.proc.stdin.flush()
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith(EVENT_PREFIX):
                self.events.put(json.loads(line[len(EVENT_PREFIX):]))
            elif line.strip():
                self.events.put({"type": "log", "message": line.rstrip()[:500]})
        self.events.put(None)  # end of stream

    def request_stop(self):
        try:
            self.proc.stdin.write("cancel\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass  # already gone

    def stop(self, grace: float) -> None:
        """Ask nicely, then SIGTERM after `grace` seconds, then SIGKILL."""
        self.request_stop()
        try:
            self.proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            self.proc.terminate()
        try:
            self.proc.wait(3)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def stderr_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def close(self):
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self._stderr.close()


def supervise(
    child: TrainingChild,
    *,
    on_event: Callable[[dict], None],
    cancel_requested: Callable[[], bool],
    heartbeat: Callable[[], bool | None],
    grace_seconds: float = 5.0,
    max_seconds: float | None = None,
    poll_seconds: float = 0.5,
    heartbeat_seconds: float = 2.0,
) -> Outcome:
    """Relay events until the child ends; enforce cancel and the time limit.

    `heartbeat` returns False once this attempt no longer owns its job (recovery
    gave the job to a new attempt, or failed it): the child is then stopped, so two
    attempts never train the same job at once."""
    started = time.monotonic()
    last_beat = 0.0
    result, error, error_code = None, None, ""
    stopping: str | None = None
    try:
        while True:
            try:
                event = child.events.get(timeout=poll_seconds)
            except queue.Empty:
                event = ...
            if event is None:
                break
            if event is not ...:
                if event["type"] == "done":
                    result = event["result"]
                elif event["type"] == "error":
                    error, error_code = event["message"], event.get("code", "")
                on_event(event)
                if not child.events.empty():
                    continue  # drain a burst before the slower checks
            now = time.monotonic()
            if now - last_beat >= heartbeat_seconds:
                owned = heartbeat()
                last_beat = now
                if stopping is None:
                    stopping = _stop_reason(owned=owned, cancel_requested=cancel_requested,
                                            elapsed=now - started, max_seconds=max_seconds)
                if stopping:
                    # Stop in a thread: events keep flowing (and heartbeats keep
                    # going) during the grace period.
                    threading.Thread(target=child.stop, args=(grace_seconds,), daemon=True).start()
        code = child.proc.wait()
    except BaseException:
        child.stop(grace_seconds)  # e.g. Celery's SoftTimeLimitExceeded: never orphan the child
        raise
    finally:
        child.close()
    outcome = _outcome(child, stopping=stopping, code=code, result=result, error=error, max_seconds=max_seconds)
    if outcome.status == FAILED and error_code:
        outcome.error_code = error_code
        if error_code == CUDA_OUT_OF_MEMORY:
            outcome.reason = CUDA_OOM_REASON + "\n" + outcome.reason
    return outcome


def _stop_reason(*, owned: bool | None, cancel_requested: Callable[[], bool], elapsed: float,
                 max_seconds: float | None) -> str | None:
    """Why a running child must stop now, if it must: another attempt owns the job, a
    cancel was asked for, or the time limit passed."""
    if owned is False:
        return SUPERSEDED
    if cancel_requested():
        return CANCELLED
    if max_seconds and elapsed > max_seconds:
        return TIMED_OUT
    return None


def _outcome(child: TrainingChild, *, stopping: str | None, code: int, result: dict | None, error: str | None,
             max_seconds: float | None) -> Outcome:
    if stopping == SUPERSEDED:
        return Outcome(SUPERSEDED, "stopped: the job was given to another attempt", result, code)
    if stopping == CANCELLED:
        return Outcome(CANCELLED, "cancelled on request", result, code)
    if stopping == TIMED_OUT:
        return Outcome(TIMED_OUT, f"stopped after the job's time limit of {max_seconds:.0f} s", result, code)
    if code == EXIT_OK and result is not None:
        return Outcome(SUCCEEDED, "", result, code)
    if code == EXIT_CANCELLED:
        return Outcome(CANCELLED, "cancelled on request", result, code)
    reason = error or f"the training process exited with status {code}"

    tail = child.stderr_tail()
    if not error and tail:
        reason += "\n" + tail
    return Outcome(FAILED, reason, result, code)
