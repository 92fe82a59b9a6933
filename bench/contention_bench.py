"""The playground while a colleague fine-tunes on the same host, in one run.

    .venv/bin/python bench/contention_bench.py [--policies stock idle] [--steps 24] [--tokens 64] [--quiet-rounds 3]

On a GPU host (the model worker and the training child on one GPU, as the Procfile's
model-gpu0 and celery-gpu0 are): 16 streams, with the child's memory capped (the
default) and uncapped:

    .venv/bin/python bench/contention_bench.py --device cuda --streams 16 --policies gpu-capped gpu-uncapped \
        --preset gpu-standard --steps 100 --tokens 128

Without a CUDA device that mode stops at once and says so.

Embedded default: the real server (uvicorn with the model worker inside, SQLite in
var/bench) and the product's own Celery worker, which runs a real CPU fine-tune (the
cpu-quick LoRA of SmolLM2 on the company FAQ) in its training child. Bare
`model.generate` runs in a separate process (`--bare-server`, stream_bench.Bare).

First, quiet rounds: bare generate, one stream, four streams. Then for each policy
(the Celery worker restarted with that policy's TRAINING_* settings):
  - the fine-tune alone (its quiet wall time, started → finished);
  - the same fine-tune again, with rounds of bare / one stream / four streams for as
    long as it runs (only rounds that ended before it did count).
Prints medians and the ratios issue 22 asks for:
  1 stream during ÷ quiet >= 0.7; p95 gap during ÷ quiet <= 2; socket ÷ bare under the
  same load >= 1.0; 4 streams' total during ÷ quiet >= 0.6; fine-tune contended ÷ quiet <= 2.

Policies: stock (the training child as it was: torch's threads, normal priority,
spinning OpenMP), threads (one thread, normal priority, passive wait), batch
(SCHED_BATCH + nice 19, one thread, passive) and idle (the default: SCHED_IDLE +
nice 19, one thread per CPU, passive).
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, celery_worker, env, login, prepare, server  # noqa: E402
from bench.stream_bench import Bare, concurrent, ws_run  # noqa: E402

PRESET = "cpu-quick"  # --preset
GIVE_UP = 3  # a fine-tune still running after this many times its quiet time is cancelled (reported as inf)
TRAINER = "bench-trainer"
POLICIES = {
    "stock": {"TRAINING_CPU_PRIORITY": "normal", "TRAINING_OMP_PASSIVE": "0",
              "TRAINING_CPU_THREADS": str(len(os.sched_getaffinity(0)))},
    "threads": {"TRAINING_CPU_PRIORITY": "normal", "TRAINING_OMP_PASSIVE": "1", "TRAINING_CPU_THREADS": "0"},
    "batch": {"TRAINING_CPU_PRIORITY": "batch", "TRAINING_OMP_PASSIVE": "1", "TRAINING_CPU_THREADS": "0"},
    "idle": {"TRAINING_CPU_PRIORITY": "idle", "TRAINING_OMP_PASSIVE": "1", "TRAINING_CPU_THREADS": "0"},
    # One GPU shared by the model worker and the training child.
    "gpu-capped": {"TRAINING_DEVICE": "cuda", "TRAINING_CUDA_MEMORY_FRACTION": "0"},
    "gpu-uncapped": {"TRAINING_DEVICE": "cuda", "TRAINING_CUDA_MEMORY_FRACTION": "1.0"},
}
STREAMS = 4  # --streams


class BareProcess:
    """`model.generate` in a process of its own (normal priority, torch's threads)."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, __file__, "--bare-server", "--device", os.environ["LLM_DEVICE"]],
                                     cwd=ROOT, env=env(),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        assert self.proc.stdout.readline().strip() == "ready"

    def tps(self, tokens: int) -> float:
        self.proc.stdin.write(f"{tokens}\n")
        return float(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(30)


def bare_server(device: str):
    bare = Bare(device)
    print("ready", flush=True)
    for line in sys.stdin:
        print(f"{bare.tps(int(line)):.3f}", flush=True)


def one_round(bare, base, cookies, tokens) -> dict:
    """Bare, then one stream, then STREAMS streams: all see the same background."""
    b = bare.tps(tokens)
    single = asyncio.run(ws_run(base, cookies[0], tokens))
    total, gaps = asyncio.run(concurrent(base, cookies[:STREAMS], tokens))
    return {"bare": b, "tps": single["tps"], "p95": single["p95_gap"], "ttft": single["ttft"], "group": total,
            "group_p95": max(g for g in gaps if g is not None)}


def summary(rounds: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}


def fine_tune(user, steps: int):
    from training import services

    return services.job_submit(user=user, kind="causal_lm", preset=PRESET, method="lora",
                               builtin_dataset="company-faq", overrides={"steps": steps})


def wait_job(pk, *, until, timeout=1800):
    from training.models import FineTuneJob

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = FineTuneJob.objects.get(pk=pk)
        if until(job):
            return job
        time.sleep(0.5)
    raise SystemExit(f"job {pk} did not get there in {timeout} s (status {job.status}: {job.failure_reason})")


def finished(job) -> bool:
    return job.status in ("succeeded", "failed", "cancelled")


def job_seconds(job) -> float:
    if job.status != "succeeded":
        raise SystemExit(f"the fine-tune {job.pk} {job.status}: {job.failure_reason}")
    return (job.finished_at - job.started_at).total_seconds()


def policy_run(name, *, user, steps, bare, base, cookies, tokens) -> dict:
    from training import services
    from training.models import JobLog

    with celery_worker(POLICIES[name]):
        quiet = job_seconds(wait_job(fine_tune(user, steps).pk, until=finished))
        pk = fine_tune(user, steps).pk
        wait_job(pk, until=lambda j: j.status == "running" and j.child_pid)
        began, rounds = time.monotonic(), []
        while True:
            r = one_round(bare, base, cookies, tokens)
            job = wait_job(pk, until=lambda j: True)
            if finished(job) and rounds:
                break
            rounds.append(r)
            if finished(job):
                break
            if time.monotonic() - began > GIVE_UP * quiet:  # starved: say so rather than wait forever
                services.job_cancel(job_id=pk)
                break
        job = wait_job(pk, until=finished)
        contended = job_seconds(job) if job.status == "succeeded" else float("inf")
        started = JobLog.objects.filter(job_id=pk, message__startswith="training process on").first()
    return {"quiet_ft": quiet, "contended_ft": contended, "rounds": len(rounds), **summary(rounds),
            "child": started.message if started else "?"}


def report(quiet: dict, results: dict):
    print(f"quiet (medians): 1 stream {quiet['tps']:.1f} tok/s, p95 gap {quiet['p95'] * 1000:.0f} ms, "
          f"TTFT {quiet['ttft'] * 1000:.0f} ms; bare {quiet['bare']:.1f} tok/s; "
          f"{STREAMS} streams {quiet['group']:.1f} tok/s total")
    for name, r in results.items():
        print(f"\n[{name}] {r['child']}; {r['rounds']} rounds during the fine-tune")
        print(f"  during: 1 stream {r['tps']:.1f} tok/s, p95 gap {r['p95'] * 1000:.0f} ms, TTFT {r['ttft'] * 1000:.0f} ms; "
              f"bare {r['bare']:.1f} tok/s; {STREAMS} streams {r['group']:.1f} tok/s total")
        print(f"  RATIO 1 stream during/quiet = {r['tps'] / quiet['tps']:.2f}  (target >= 0.7)")
        print(f"  RATIO p95 gap during/quiet = {r['p95'] / quiet['p95']:.2f}  (target <= 2)")
        print(f"  RATIO socket/bare during = {r['tps'] / r['bare']:.2f}  (target >= 1.0)")
        print(f"  RATIO {STREAMS} streams during/quiet = {r['group'] / quiet['group']:.2f}  (target >= 0.6)")
        print(f"  RATIO fine-tune contended/quiet = {r['contended_ft'] / r['quiet_ft']:.2f}  (target <= 2; "
              f"{r['quiet_ft']:.0f} s quiet, {r['contended_ft']:.0f} s contended)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", nargs="*", default=["stock", "idle"], choices=list(POLICIES))
    parser.add_argument("--steps", type=int, default=24, help="fine-tune steps (the cpu-quick preset has 24)")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--quiet-rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--device", default="cpu", help="cpu, or cuda: the model worker, bare generate and the "
                                                            "gpu-* policies' fine-tune on one GPU")
    parser.add_argument("--streams", type=int, default=4, help="the group of simultaneous streams (16 on a GPU)")
    parser.add_argument("--preset", default="cpu-quick")
    parser.add_argument("--bare-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        return bare_server(args.device)
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("--device cuda needs a CUDA device, and this process sees none "
                             "(torch.cuda.is_available() is False). Run it on the GPU host.")
    global STREAMS, PRESET
    STREAMS, PRESET = args.streams, args.preset
    os.environ.update(env())
    os.environ["LLM_DEVICE"] = args.device
    users = [f"bench{i}" for i in range(STREAMS)]
    prepare([*users, TRAINER])

    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from training import services

    trainer = get_user_model().objects.get(username=TRAINER)
    services.quota_set(user=trainer, max_concurrent=5, gpu_seconds_per_week=None)
    print(f"load average before: {os.getloadavg()}; {len(os.sched_getaffinity(0))} CPUs; "
          f"{args.steps}-step fine-tunes; {args.tokens} tokens per stream")
    with server(args.port) as base:
        cookies = [login(base, u) for u in users]
        bare = BareProcess()
        try:
            asyncio.run(ws_run(base, cookies[0], 4))  # warm-up
            quiet = summary([one_round(bare, base, cookies, args.tokens) for _ in range(args.quiet_rounds)])
            print(f"quiet: {quiet}", flush=True)
            results = {}
            for name in args.policies:
                results[name] = policy_run(name, user=trainer, steps=args.steps, bare=bare, base=base,
                                           cookies=cookies, tokens=args.tokens)
                print(f"{name}: {results[name]}", flush=True)
        finally:
            bare.close()
    report(quiet, results)
    print(f"\nload average after: {os.getloadavg()}")
    print(json.dumps({"quiet": quiet, "policies": results}, default=str))


if __name__ == "__main__":
    main()
