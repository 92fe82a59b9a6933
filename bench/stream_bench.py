"""Streaming through the WebSocket against bare `model.generate`, in one run.

    .venv/bin/python bench/stream_bench.py [--tokens 64] [--repeats 3] [--clients 4 8] [--device cpu]

On a GPU host: `--device cuda --clients 16 64` (the server's worker and the baseline both
run on the GPU; the batch follows the GPU's memory, so 64 clients share one batch).

Starts the real server (uvicorn, embedded model worker, SQLite in var/bench) and, in
this process, loads the same model for the baseline. Rounds alternate bare generate,
one client and each N clients, so that all see the same background load. Prints medians and the ratios
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


class Bare:
    """Bare `model.generate` in this process, on the model as the worker loads it
    (`load_model`: on a CPU, oneDNN's prepacked matrix products), or with stock=True
    straight from `from_pretrained` (PyTorch's default CPU kernels), for reference."""

    def __init__(self, device, stock=False):
        import torch
        from transformers import AutoModelForCausalLM

        from playground.ml.loading import ModelSpec, load_model

        path = ROOT / "var" / "models" / MODEL
        loaded = load_model(ModelSpec(name=MODEL, kind="causal_lm", source=str(path)), device=device)
        self.model = loaded.model
        if stock:
            self.model = AutoModelForCausalLM.from_pretrained(path, dtype=next(self.model.parameters()).dtype)
            self.model = self.model.eval().to(device)
        self.device = device
        self.ids = torch.tensor([loaded.tokenizer(PROMPT, add_special_tokens=False)["input_ids"]], device=device)
        self.tps(4)  # warm-up

    def tps(self, tokens) -> float:
        import torch

        with torch.no_grad():
            t = time.perf_counter()
            out = self.model.generate(self.ids, max_new_tokens=tokens, do_sample=False, repetition_penalty=1.0)
        return (out.shape[1] - self.ids.shape[1]) / (time.perf_counter() - t)

    def prefill(self) -> float:
        import torch

        times = []
        with torch.no_grad():
            for _ in range(5):
                t = time.perf_counter()
                self.model(self.ids)
                if self.device.startswith("cuda"):
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t)
        return statistics.median(times)


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
        stock = Bare(args.device, stock=True)
        stock_tps = statistics.median(stock.tps(args.tokens) for _ in range(args.repeats))
        del stock
        bare = Bare(args.device)
        prefill = bare.prefill()
        asyncio.run(ws_run(base, cookies[0], 4))  # warm-up
        # Rounds: bare, one client, then each N; so every measure sees the same background load.
        bares, singles, groups = [], [], {n: [] for n in args.clients}
        for _ in range(args.repeats):
            bares.append(bare.tps(args.tokens))
            singles.append(asyncio.run(ws_run(base, cookies[0], args.tokens)))
            for n in args.clients:
                groups[n].append(asyncio.run(concurrent(base, cookies[:n], args.tokens)))
        bare_tps = statistics.median(bares)
        ws_tps = statistics.median(r["tps"] for r in singles)
        ttft = statistics.median(r["ttft"] for r in singles)
        print(f"tokens per run: {args.tokens}; rounds: {args.repeats}; medians")
        print(f"bare model.generate: {bare_tps:.1f} tok/s; prefill {prefill * 1000:.0f} ms "
              f"(stock from_pretrained model, measured first: {stock_tps:.1f} tok/s)")
        single_p95 = statistics.median(r["p95_gap"] for r in singles)
        print(f"WebSocket, 1 client: {ws_tps:.1f} tok/s; time to first token {ttft * 1000:.0f} ms; "
              f"p95 inter-token {single_p95 * 1000:.0f} ms")
        print(f"RATIO websocket/bare tokens/s = {ws_tps / bare_tps:.2f}  (target >= 0.95)")
        print(f"TTFT over socket - bare prefill = {(ttft - prefill) * 1000:.0f} ms  (target <= 100)")
        for n, runs in groups.items():
            total = statistics.median(r[0] for r in runs)
            p95 = statistics.median(max(g for g in r[1] if g is not None) for r in runs)
            target = f"  (target >= {TARGETS[n]})" if n in TARGETS and args.device == "cpu" else ""
            print(f"RATIO {n} clients total/1 client = {total / ws_tps:.2f}{target}  ({total:.1f} tok/s total; "
                  f"worst client's p95 inter-token {p95 * 1000:.0f} ms)")
            print(f"RATIO {n} clients p95 gap/1 client p95 gap = {p95 / single_p95:.2f}"
                  + ("  (target <= 1.5)" if n == 4 else ""))


if __name__ == "__main__":
    main()
