"""The resource policy of one host: interactive work (streams, attention, tokenize in the
model worker) comes before batch work (the training child of a fine-tune).

Django-free and torch-free: the Celery task's parent process builds the training
child's environment from it, and the child applies it before it imports torch.

On the CPU the policy is three things, measured in docs/DECISIONS.md ("Interactive
work first"):

- thread budgets derived from the CPUs this process may use (os.sched_getaffinity),
  not from the machine's core count: the model worker keeps one decode thread per
  CPU, and the training child gets the same count;
- the training child runs under SCHED_IDLE (and nice 19): the kernel gives it a CPU
  only when nothing else wants one, so a decode step never waits behind a training
  step, and a quiet host still trains at full speed;
- the child's OpenMP team waits passively (OMP_WAIT_POLICY=PASSIVE): an idle-class
  thread that spins at a barrier while its partner is preempted burns the CPU the
  stream needs, and a team whose threads spin steals the cores it just gave back.

On a GPU the child's share of device memory is capped (TRAINING_CUDA_MEMORY_FRACTION),
so the model worker's key/value caches are never taken.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

IDLE, BATCH, NORMAL = "idle", "batch", "normal"
PRIORITIES = (IDLE, BATCH, NORMAL)
NICE_BATCH = 19  # the lowest priority nice offers; SCHED_IDLE is below even that
# The model worker sizes its KV caches to half of the free memory when it starts
# (playground.ml.engine.batch_size_for); 0.4 of the device leaves it that and its weights.
DEFAULT_CUDA_MEMORY_FRACTION = 0.4


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask: taskset, cgroups cpusets)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class TrainingPolicy:
    """How a training child runs beside the model worker on this host."""

    threads: int  # torch intra-op threads in the child
    priority: str = IDLE  # IDLE: SCHED_IDLE + nice 19; BATCH: SCHED_BATCH + nice 19; NORMAL: unchanged
    passive_wait: bool = True  # OMP_WAIT_POLICY=PASSIVE, GOMP_SPINCOUNT=0 in the child
    cuda_memory_fraction: float = DEFAULT_CUDA_MEMORY_FRACTION  # of the device, when it trains on CUDA

    def to_dict(self) -> dict:
        return {"threads": self.threads, "priority": self.priority, "passive_wait": self.passive_wait,
                "cuda_memory_fraction": self.cuda_memory_fraction}


def worker_threads(*, cpus: int | None = None) -> int:
    """The model worker's decode threads: one per usable CPU (its decode loop is what
    people watch; the training child only ever gets what it leaves idle)."""
    return cpus or usable_cpus()


def training_policy(*, threads: int = 0, priority: str = IDLE, passive_wait: bool = True,
                    cuda_memory_fraction: float = 0.0, cpus: int | None = None) -> TrainingPolicy:
    """The policy for a training child; 0 / empty arguments take the defaults.

    The default thread count equals the worker's: under SCHED_IDLE the child's threads
    only run on CPUs the worker left idle, so together they never oversubscribe what the
    worker uses, and alone the child trains as fast as the host allows. At normal or
    batch priority the two would time-share the CPUs instead, so the child then gets
    what the worker's decode threads leave (at least one).
    """
    if priority not in PRIORITIES:
        raise ValueError(f"unknown training priority {priority!r}; use one of {', '.join(PRIORITIES)}")
    cpus = cpus or usable_cpus()
    if not threads:
        threads = cpus if priority == IDLE else max(1, cpus - worker_threads(cpus=cpus) // 2)
    return TrainingPolicy(threads=threads, priority=priority, passive_wait=passive_wait,
                          cuda_memory_fraction=cuda_memory_fraction or DEFAULT_CUDA_MEMORY_FRACTION)


def training_child_env(policy: TrainingPolicy) -> dict[str, str]:
    """Environment for the child; OpenMP reads it when torch loads, so it goes in at spawn."""
    env = {"OMP_NUM_THREADS": str(policy.threads), "MKL_NUM_THREADS": str(policy.threads)}
    if policy.passive_wait:
        env.update(OMP_WAIT_POLICY="PASSIVE", GOMP_SPINCOUNT="0")
    return env


def apply_training_priority(priority: str) -> None:
    """Lower this process's CPU priority; call it before any thread starts, since new
    threads inherit the calling thread's policy (the OpenMP team included)."""
    if priority == NORMAL:
        return
    os.setpriority(os.PRIO_PROCESS, 0, NICE_BATCH)
    policy = os.SCHED_IDLE if priority == IDLE else os.SCHED_BATCH
    os.sched_setscheduler(0, policy, os.sched_param(0))


def scheduling_of(pid: int = 0) -> dict:
    """What the kernel says about a process: its policy's name and its nice value."""
    names = {os.SCHED_OTHER: "SCHED_OTHER", os.SCHED_BATCH: "SCHED_BATCH", os.SCHED_IDLE: "SCHED_IDLE"}
    return {"policy": names.get(os.sched_getscheduler(pid), str(os.sched_getscheduler(pid))),
            "nice": os.getpriority(os.PRIO_PROCESS, pid)}
