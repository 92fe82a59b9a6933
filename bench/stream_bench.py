"""Streaming through the WebSocket against bare `model.generate`, in one run.

    .venv/bin/python bench/stream_bench.py [--tokens 64] [--repeats 3] [--clients 4 8] [--device cpu]

On a GPU host: `--device cuda --clients 16 64` (the server's worker and the baseline both
run on the GPU; the batch follows the GPU's memory, so 64 clients share one batch).

Starts the real server (uvicorn, embedded model worker, SQLite in var/bench) and, in
this process, loads the same model for the baseline. Prints medians and the ratios
the playground issue asks for:
  - WebSocket tokens/s ÷ bare generate tokens/s (greedy, same prompt, same length);
  - time to first token over the socket − bare prefill time;
  - total tokens/s with N simultaneous clients ÷ one client's tokens/s, and the worst
    client's p95 inter-token gap ÷ the single client's.
Targets (the shared-service issue): WebSocket/bare >= 0.95; on a CPU 4 clients >= 2.5x
and 8 clients >= 5x; p95 gap at 4 clients <= 1.5x one client's.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, login, prepare, server  # noqa: E402

TARGETS = {4: 2.5, 8: 5.0}

PROMPT = "Once upon a time, in a small village by the sea, there lived"
MODEL = "smollm2-135m-instruct"


async def ws_run(base, cookie, tokens):
    import websockets

    url = base.replace("http://", "ws://") + "/ws/playground/"
    async with websockets.connect(url, additional_headers={"Cookie": cookie, "Origin": base}) as ws:
        sent = time.perf_counter()
        await ws.send(json.dumps({"type": "start", "model": MODEL, "mode": "completion", "prompt": PROMPT,
                                  "params": {"temperature": 0, "max_new_tokens": tokens}}))
        arrivals = []
        while True:
            msg = json.loads(await ws.recv())
            if msg["type"] == "token":
                arrivals.append(time.perf_counter())
            elif msg["type"] in ("done", "error"):
                if msg["type"] == "error":
                    raise RuntimeError(msg)
                break
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    return {"start": sent, "first": arrivals[0], "end": arrivals[-1], "n": len(arrivals),
            "ttft": arrivals[0] - sent, "tps": len(arrivals) / (arrivals[-1] - sent),
            "p95_gap": statistics.quantiles(gaps, n=20)[-1] if len(gaps) >= 2 else None}


async def concurrent(base, cookies, tokens):
    results = await asyncio.gather(*(ws_run(base, c, tokens) for c in cookies))
    start = min(r["start"] for r in results)
    end = max(r["end"] for r in results)
    return sum(r["n"] for r in results) / (end - start), [r["p95_gap"] for r in results]


def bare_baseline(tokens, repeats, device, stock=False):
    """Bare `model.generate` on the model as the worker loads it (`load_model`: on a CPU,
    oneDNN's prepacked matrix products), or with stock=True straight from
    `from_pretrained` (PyTorch's default CPU kernels), for reference."""
    import torch
    from transformers import AutoModelForCausalLM

    from playground.ml.loading import ModelSpec, load_model

    path = ROOT / "var" / "models" / MODEL
    loaded = load_model(ModelSpec(name=MODEL, kind="causal_lm", source=str(path)), device=device)
    tok, model = loaded.tokenizer, loaded.model
    if stock:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=next(model.parameters()).dtype).eval().to(device)
    ids = torch.tensor([tok(PROMPT, add_special_tokens=False)["input_ids"]], device=device)
    tps, prefill = [], []
    with torch.no_grad():
        model.generate(ids, max_new_tokens=4, do_sample=False)  # warm-up
        for _ in range(repeats):
            t = time.perf_counter()
            out = model.generate(ids, max_new_tokens=tokens, do_sample=False, repetition_penalty=1.0)
            tps.append((out.shape[1] - ids.shape[1]) / (time.perf_counter() - t))
        for _ in range(5):
            t = time.perf_counter()
            model(ids)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            prefill.append(time.perf_counter() - t)
    del model, loaded
    return statistics.median(tps), statistics.median(prefill)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clients", type=int, nargs="*", default=[4, 8])
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (server worker and baseline alike)")
    args = parser.parse_args()
    os.environ["LLM_DEVICE"] = args.device  # bench.common passes the environment to the server
    users = [f"bench{i}" for i in range(max(args.clients + [1]))]
    prepare(users)
    with server(args.port) as base:
        cookies = [login(base, u) for u in users]
        bare_tps, prefill = bare_baseline(args.tokens, args.repeats, args.device)
        stock_tps, _ = bare_baseline(args.tokens, args.repeats, args.device, stock=True)
        asyncio.run(ws_run(base, cookies[0], 4))  # warm-up
        singles = [asyncio.run(ws_run(base, cookies[0], args.tokens)) for _ in range(args.repeats)]
        ws_tps = statistics.median(r["tps"] for r in singles)
        ttft = statistics.median(r["ttft"] for r in singles)
        print(f"tokens per run: {args.tokens}; repeats: {args.repeats}; medians")
        print(f"bare model.generate: {bare_tps:.1f} tok/s; prefill {prefill * 1000:.0f} ms "
              f"(stock from_pretrained model: {stock_tps:.1f} tok/s)")
        single_p95 = statistics.median(r["p95_gap"] for r in singles)
        print(f"WebSocket, 1 client: {ws_tps:.1f} tok/s; time to first token {ttft * 1000:.0f} ms; "
              f"p95 inter-token {single_p95 * 1000:.0f} ms")
        print(f"RATIO websocket/bare tokens/s = {ws_tps / bare_tps:.2f}  (target >= 0.95)")
        print(f"TTFT over socket - bare prefill = {(ttft - prefill) * 1000:.0f} ms  (target <= 100)")
        for n in args.clients:
            runs = [asyncio.run(concurrent(base, cookies[:n], args.tokens)) for _ in range(args.repeats)]
            total = statistics.median(r[0] for r in runs)
            p95 = statistics.median(max(g for g in r[1] if g is not None) for r in runs)
            target = f"  (target >= {TARGETS[n]})" if n in TARGETS and args.device == "cpu" else ""
            print(f"RATIO {n} clients total/1 client = {total / ws_tps:.2f}{target}  ({total:.1f} tok/s total; "
                  f"worst client's p95 inter-token {p95 * 1000:.0f} ms)")
            print(f"RATIO {n} clients p95 gap/1 client p95 gap = {p95 / single_p95:.2f}"
                  + ("  (target <= 1.5)" if n == 4 else ""))


if __name__ == "__main__":
    main()
