"""An OpenAI-compatible endpoint through our socket against the same endpoint streamed
directly, in one run.

    .venv/bin/python bench/endpoint_bench.py [--tokens 64] [--repeats 3] [--clients 1 4]

With no --base-url it starts llama.cpp's server (var/llama-venv, bin/llama-server-setup)
on SmolLM2's GGUF. On a GPU host with vLLM (see docs/PERFORMANCE.md):

    vllm serve /models/Qwen2.5-7B-Instruct --served-model-name qwen --api-key "$VLLM_API_KEY" --port 8001 &
    .venv/bin/python bench/endpoint_bench.py --base-url http://127.0.0.1:8001/v1 --model qwen \
        --api-key-env VLLM_API_KEY --clients 1 32 --tokens 256

Starts our real server (uvicorn, embedded, SQLite in var/bench), registers the endpoint
(its key from the named environment variable), and for each client count runs N
clients at once straight against the endpoint (httpx, the same request body our client
sends) and N clients at once through our WebSocket, `--repeats` times, alternating which
goes first.
Prints medians and the ratios the endpoint issue asks for:
  - total tokens/s through our socket ÷ total tokens/s straight from the endpoint (≥ 0.95);
  - first-token time through our socket − straight from the endpoint (≤ 50 ms).
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import login, manage, prepare, server  # noqa: E402

PROMPT = "Once upon a time, in a small village by the sea, there lived"
NAME = "bench-endpoint"
KEY_VAR_DEFAULT = "LLM_BENCH_ENDPOINT_KEY"


def params(tokens: int) -> dict:
    return {"temperature": 0, "max_new_tokens": tokens, "top_k": 50, "top_p": 1.0, "repetition_penalty": 1.0,
            "seed": None}


async def direct_run(config, tokens):
    """One stream straight from the endpoint, read as our client reads it."""
    from playground.endpoints import stream_completion

    sent, arrivals = time.perf_counter(), []
    async for event in stream_completion(config, mode="completion", prompt=PROMPT, params=params(tokens)):
        if event["type"] == "token":
            arrivals.append(time.perf_counter())
    return {"start": sent, "end": arrivals[-1], "n": len(arrivals), "ttft": arrivals[0] - sent}


async def socket_run(base, cookie, tokens):
    import websockets

    url = base.replace("http://", "ws://") + "/ws/playground/"
    async with websockets.connect(url, additional_headers={"Cookie": cookie, "Origin": base}) as ws:
        sent, arrivals, started = time.perf_counter(), [], None
        await ws.send(json.dumps({"type": "start", "model": NAME, "mode": "completion", "prompt": PROMPT,
                                  "params": params(tokens)}))
        while True:
            msg = json.loads(await ws.recv())
            if msg["type"] == "started":
                started = time.perf_counter()
            elif msg["type"] == "token":
                arrivals.append(time.perf_counter())
            elif msg["type"] == "error":
                raise RuntimeError(msg)
            elif msg["type"] == "done":
                break
    return {"start": sent, "end": arrivals[-1], "n": len(arrivals), "ttft": arrivals[0] - sent,
            "started": started - sent}


def totals(results):
    span = max(r["end"] for r in results) - min(r["start"] for r in results)
    return sum(r["n"] for r in results) / span, statistics.median(r["ttft"] for r in results)


def started_ms(results):
    """Our side's share of the first token: `start` sent → `started` back (run recorded,
    claimed, request about to go out)."""
    return statistics.median(r["started"] for r in results) * 1000


def start_llama(folder: Path, threads: int):
    """llama.cpp's server on SmolLM2's GGUF (as the tests start it), on `threads` threads."""
    import secrets
    import socket
    import subprocess

    from playground.ml.provision import smollm2_gguf_path

    python = Path(os.environ.get("LLAMA_VENV") or Path(__file__).resolve().parent.parent / "var/llama-venv")
    python = python / "bin" / "python"
    if not python.is_file():
        sys.exit(f"{python} is missing: run bin/llama-server-setup, or give --base-url")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    key = secrets.token_urlsafe(16)
    log = open(folder / "llama-server.log", "w")  # noqa: SIM115  (lives as long as the server)
    proc = subprocess.Popen([str(python), "-m", "llama_cpp.server", "--model", str(smollm2_gguf_path()),
                             "--model_alias", "smollm2-gguf", "--host", "127.0.0.1", "--port", str(port),
                             f"--api_key={key}", "--n_threads", str(threads), "--interrupt_requests", "False"],
                            stdout=log, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}/v1", "smollm2-gguf", key


def wait_up(config, timeout=120):
    from playground.endpoints import probe

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if asyncio.run(probe(config))["state"] == "up":
            return
        time.sleep(0.5)
    sys.exit(f"The endpoint at {config.base_url} did not come up")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", help="an endpoint already running (…/v1); default: start llama.cpp's server")
    parser.add_argument("--model", help="its served model name")
    parser.add_argument("--api-key-env", default=KEY_VAR_DEFAULT, help="the variable that holds its key")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clients", type=int, nargs="*", default=[1])
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--llama-threads", type=int, default=2,
                        help="threads for the llama.cpp server this script starts; 1 leaves our web process and "
                             "the clients a core, as a deployment that gives the engine its own host does")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("LLM_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var" / "bench"))
    import django

    django.setup()
    from playground.endpoints import EndpointConfig

    llama = None
    if args.base_url:
        base_url, model = args.base_url.rstrip("/"), args.model
        if not model:
            sys.exit("--model is needed with --base-url")
    else:
        llama, base_url, model, key = start_llama(Path(tempfile.mkdtemp(prefix="endpoint-bench-")), args.llama_threads)
        os.environ[args.api_key_env] = key  # our server inherits it
    clients = max(args.clients)
    config = EndpointConfig(name=NAME, base_url=base_url, served_model=model, api_key_env=args.api_key_env,
                            timeout=120, max_tokens=args.tokens, max_concurrency=clients)
    try:
        wait_up(config)
        users = [f"bench-ep{i}" for i in range(clients)]
        prepare(users)
        manage("shell", "-c", "from playground.services import model_register_endpoint as r; "
               f"r(name={NAME!r}, display_name='bench', base_url={base_url!r}, served_model={model!r}, "
               f"api_key_env={args.api_key_env!r}, timeout_seconds=120, max_tokens={args.tokens}, "
               f"max_concurrency={clients})")
        with server(args.port) as base:
            cookies = [login(base, u) for u in users]
            asyncio.run(socket_run(base, cookies[0], 4))  # warm-up, both paths
            asyncio.run(direct_run(config, 4))
            print(f"endpoint {base_url} model {model}; {args.tokens} tokens, greedy, {args.repeats} repeats")
            for n in args.clients:
                direct, ours, ours_started = [], [], []
                for repeat in range(args.repeats):
                    # Alternate which path goes first, so neither always follows the other.
                    for path in (("direct", "socket") if repeat % 2 == 0 else ("socket", "direct")):
                        if path == "direct":
                            runs = [direct_run(config, args.tokens) for _ in range(n)]
                            direct.append(totals(asyncio.run(_gather(runs))))
                        else:
                            runs = asyncio.run(_gather([socket_run(base, c, args.tokens) for c in cookies[:n]]))
                            ours.append(totals(runs))
                            ours_started.append(started_ms(runs))
                d_tps, o_tps = statistics.median(t for t, _ in direct), statistics.median(t for t, _ in ours)
                d_ttft, o_ttft = statistics.median(f for _, f in direct), statistics.median(f for _, f in ours)
                print(f"{n:>3} client(s): direct {d_tps:7.1f} tok/s, ttft {d_ttft * 1000:6.1f} ms | "
                      f"socket {o_tps:7.1f} tok/s, ttft {o_ttft * 1000:6.1f} ms | "
                      f"ratio {o_tps / d_tps:.3f} (target >= 0.95), first-token overhead "
                      f"{(o_ttft - d_ttft) * 1000:+.1f} ms (target <= 50); start→started "
                      f"{statistics.median(ours_started):.1f} ms")
    finally:
        if llama is not None:
            llama.terminate()
            llama.wait(10)


async def _gather(coroutines):
    return await asyncio.gather(*coroutines)


if __name__ == "__main__":
    main()
