"""Entry point of the training child: `python -m training.ml.child`.

The parent (a Celery task) starts this as a fresh interpreter, so CUDA is only ever
touched here and every byte of GPU memory goes back when we exit. Protocol:

- stdin, first line: {"config": TrainConfig fields, "rows": [...]}; later lines:
  "cancel" asks for a clean stop. EOF on stdin means the parent died: exit at once,
  so a killed worker never leaves an orphan training on the GPU.
- stdout: one event per line, prefixed with EVENT_PREFIX (libraries may print too).
  An "error" event may carry a `code` (CUDA_OUT_OF_MEMORY) the web side translates.

Before torch loads, the child lowers its own CPU priority as the host's resource policy
says (playground/ml/resources.py); the parent already put the OpenMP settings in its
environment.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback

EVENT_PREFIX = "@@event "
EXIT_OK, EXIT_FAILED, EXIT_CANCELLED, EXIT_ORPHANED = 0, 1, 2, 3
CUDA_OUT_OF_MEMORY = "cuda_out_of_memory"


def main() -> int:
    out = sys.stdout
    lock = threading.Lock()

    def report(event: dict):
        with lock:
            out.write(EVENT_PREFIX + json.dumps(event) + "\n")
            out.flush()

    job = json.loads(sys.stdin.readline())
    # First, while this is the only thread: every thread started later (the OpenMP
    # team's too) inherits the policy.
    from playground.ml.resources import apply_training_priority

    apply_training_priority(job["config"].get("priority", "normal"))
    from .train import Stopped, TrainConfig, run_training

    stop = threading.Event()

    def watch_parent():
        for line in sys.stdin:
            if line.strip() == "cancel":
                stop.set()
        os._exit(EXIT_ORPHANED)  # stdin closed: the parent is gone

    threading.Thread(target=watch_parent, daemon=True).start()
    try:
        result = run_training(TrainConfig(**job["config"]), job["rows"], report=report, should_stop=stop.is_set)
    except Stopped:
        report({"type": "log", "message": "stopped on request"})
        return EXIT_CANCELLED
    except Exception as exc:
        report({"type": "error", "message": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(),
                **({"code": CUDA_OUT_OF_MEMORY} if _is_cuda_oom(exc) else {})})
        return EXIT_FAILED
    report({"type": "done", "result": result})
    return EXIT_OK


def _is_cuda_oom(exc: BaseException) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(exc, torch.cuda.OutOfMemoryError)


if __name__ == "__main__":
    sys.exit(main())
