"""The decode step on the CPU: what the two CPU changes of the model worker buy, in one run.

    .venv/bin/python bench/cpu_step_bench.py [--tokens 32] [--repeats 4]

1. Matrix products: greedy `generate` at batch 1 and 8 with the stock `from_pretrained`
   model (PyTorch's default kernels, MKL's sgemm) against the model as the worker loads
   it (`load_model`: oneDNN's prepacked products, playground/ml/cpu_linear.py).
2. OpenMP teams: the same decoding in a long-lived thread, as the batch engine runs,
   while another thread that once ran PyTorch is still alive (as asyncio.to_thread's
   pool left them) and after it has ended (playground/ml/threads.py).

Rounds alternate the variants, so both see the same background load; medians of
milliseconds per decode step are printed with the ratios.
"""

from __future__ import annotations

import argparse
import queue
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPT = "Once upon a time, in a small village by the sea, there lived"
MODEL = "smollm2-135m-instruct"


def step_ms(model, ids, batch: int, tokens: int) -> float:
    import torch

    x = torch.tensor([ids] * batch)
    with torch.no_grad():
        started = time.perf_counter()
        model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=tokens, do_sample=False,
                       eos_token_id=None, pad_token_id=0)
    return (time.perf_counter() - started) / tokens * 1000


def in_thread(fn, *args):
    box = {}
    thread = threading.Thread(target=lambda: box.setdefault("value", fn(*args)))
    thread.start()
    thread.join()
    return box["value"]


def main():
    import torch
    from transformers import AutoModelForCausalLM

    from playground.ml.loading import ModelSpec, load_model

    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()
    path = ROOT / "var" / "models" / MODEL
    # Loaded in threads that end, so that the main thread holds no OpenMP team of its own.
    loaded = in_thread(load_model, ModelSpec(name=MODEL, kind="causal_lm", source=str(path)))
    stock = in_thread(lambda: AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval())
    ids = loaded.tokenizer(PROMPT, add_special_tokens=False)["input_ids"]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{loaded.info['packed_linears']} layers packed; {args.tokens} tokens per run; medians of {args.repeats}")

    # The "engine": one long-lived thread that does all the decoding below.
    jobs: queue.Queue = queue.Queue()
    results: queue.Queue = queue.Queue()

    def engine():
        while (job := jobs.get()) is not None:
            results.put(step_ms(*job))

    threading.Thread(target=engine, daemon=True).start()

    def decode(model, batch):
        jobs.put((model, ids, batch, args.tokens))
        return results.get()

    decode(loaded.model, 1)  # warm-up
    times: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.repeats):
        for batch in (1, 8):
            for name, model in (("stock", stock), ("packed", loaded.model)):
                times.setdefault((name, batch), []).append(decode(model, batch))
            pool = ThreadPoolExecutor(1)  # a helper thread that ran PyTorch once and stays
            pool.submit(lambda: torch.ones(256, 256) @ torch.ones(256, 256)).result()
            times.setdefault(("packed, idle team alive", batch), []).append(decode(loaded.model, batch))
            pool.shutdown(wait=True)
            time.sleep(0.1)
    jobs.put(None)
    med = {key: statistics.median(values) for key, values in times.items()}
    for batch in (1, 8):
        print(f"batch {batch}: stock {med['stock', batch]:.1f} ms/step, packed {med['packed', batch]:.1f}, "
              f"packed with an idle OpenMP team alive {med['packed, idle team alive', batch]:.1f}")
    print(f"RATIO stock/packed step: batch 1 {med['stock', 1] / med['packed', 1]:.2f}x, "
          f"batch 8 {med['stock', 8] / med['packed', 8]:.2f}x")
    print(f"RATIO batch 8 step/batch 1 step: stock {med['stock', 8] / med['stock', 1]:.2f}, "
          f"packed {med['packed', 8] / med['packed', 1]:.2f}  (8 clients can reach 8 / this)")
    print(f"RATIO idle team alive/none: batch 1 {med['packed, idle team alive', 1] / med['packed', 1]:.2f}x, "
          f"batch 8 {med['packed, idle team alive', 8] / med['packed', 8]:.2f}x")


if __name__ == "__main__":
    main()
