"""CPU per request through Django's ASGI path, in one process, without the network:
the lesson page against the trivial view, production settings on PostgreSQL and Redis.

    .venv/bin/python bench/asgi_cpu_bench.py [--requests 100] [--rounds 10]

A steadier figure than bench/web_bench.py's on a shared machine: it counts the CPU
seconds of this process (all its threads) per request, so other tenants' load changes
it much less than latency. Requests go through Django's AsyncClient, which builds the
same middleware chain as the ASGI server (async handler, thread hand-offs). Rounds
alternate two chains: the one settings.MIDDLEWARE gives, and the same with the innermost
middleware made async-capable (`MiddlewareMixin`), as it was before stop 12; so the figure
shows what running the chain in sync mode saves. Uses bench/web_bench.py's database and
seed (run that once first, or this runs its setup).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.web_bench import LESSON, SEED, TRIVIAL, bench_env, ensure_database, manage  # noqa: E402


def async_chain_middleware():
    """DomainErrorMiddleware as it was: a MiddlewareMixin, so the chain ran in async mode."""
    from django.utils.deprecation import MiddlewareMixin

    from core.middleware import DomainErrorMiddleware

    class AsyncCapableDomainError(MiddlewareMixin):
        process_exception = DomainErrorMiddleware.process_exception

    return AsyncCapableDomainError


async def measure(args, user) -> dict:
    from asgiref.sync import sync_to_async
    from django.conf import settings
    from django.test import AsyncClient, override_settings

    sys.modules["_asgi_cpu_bench"] = sys.modules[__name__]
    chains = {
        "sync chain (settings.MIDDLEWARE)": list(settings.MIDDLEWARE),
        "async chain (before)": [m if not m.endswith("DomainErrorMiddleware") else
                                 "_asgi_cpu_bench.AsyncCapableDomainError" for m in settings.MIDDLEWARE],
    }
    clients = {}
    for name, chain in chains.items():
        with override_settings(MIDDLEWARE=chain):
            client = AsyncClient(HTTP_X_FORWARDED_PROTO="https")
            await sync_to_async(client.force_login)(user)
            for path in (LESSON, TRIVIAL):
                for _ in range(10):  # warm-up: the chain is built, templates and connections ready
                    assert (await client.get(path)).status_code == 200
            if b'class="lesson-body' not in (await client.get(LESSON)).content:
                raise SystemExit(f"{LESSON} is not open to the bench learner (locked?)")
            clients[name] = (client, chain)
    cpu: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for name, (client, chain) in clients.items():
            with override_settings(MIDDLEWARE=chain):
                for path in (LESSON, TRIVIAL):
                    started = time.process_time()
                    for _ in range(args.requests):
                        await client.get(path)
                    cpu.setdefault((name, path), []).append((time.process_time() - started) / args.requests * 1000)
    return {key: statistics.median(values) for key, values in cpu.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100, help="per page and chain in each round")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    env = bench_env(workers=1)
    env["ALLOWED_HOSTS"] = "127.0.0.1,testserver"
    ensure_database(env["DATABASE_URL"])
    manage(env, "migrate", "--noinput")
    manage(env, "shell", "-c", SEED)
    os.environ.update(env)
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    globals()["AsyncCapableDomainError"] = async_chain_middleware()
    user = get_user_model().objects.get(username="bench-learner")
    med = asyncio.run(measure(args, user))
    print(f"CPU ms per request, medians of {args.rounds} rounds of {args.requests} (this process, all threads):")
    for chain in dict.fromkeys(name for name, _ in med):
        lesson, trivial = med[chain, LESSON], med[chain, TRIVIAL]
        print(f"  {chain}: lesson page {lesson:.2f}, trivial view {trivial:.2f}, "
              f"RATIO trivial/lesson = {trivial / lesson:.2f}")
    sync, before = "sync chain (settings.MIDDLEWARE)", "async chain (before)"
    print(f"RATIO lesson page CPU, sync chain / async chain = {med[sync, LESSON] / med[before, LESSON]:.2f}; "
          f"trivial view = {med[sync, TRIVIAL] / med[before, TRIVIAL]:.2f}")


if __name__ == "__main__":
    main()
