"""Layer view and switch-offs: the whole logit-lens grid for a 64-token prompt and one
ablation, each against one plain forward pass of the same prompt, in the same run.

    .venv/bin/python bench/lens_bench.py [--repeats 7]

The model is SmolLM2-135M-Instruct as the worker serves it (fp32 on the CPU, oneDNN-packed
linears: playground.ml.loading.load_model), warm. Each repeat uses a new 64-token text, so
nothing is reused: the grid is one forward pass for the hidden states plus the LM head over
30 layers × 64 positions; the ablation (head 13.8, zero) is two forward passes, without and
with it. Prints medians, the ratio to a plain forward pass, and the grid's JSON size.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent
WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa".split()


def texts(tokenizer, n: int) -> list[list[int]]:
    """n different prompts of exactly 64 tokens."""
    out = []
    for seed in range(n):
        words = " ".join(WORDS[(seed * 5 + i * 3) % len(WORDS)] for i in range(200))
        out.append(tokenizer(words, add_special_tokens=False)["input_ids"][:64])
    return out


def main():
    import torch

    from playground.ml import lens
    from playground.ml.kinds import CAUSAL_LM
    from playground.ml.loading import ModelSpec, load_model

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    models = Path(os.environ.get("LLM_MODEL_DIR") or ROOT / "var" / "models")
    loaded = load_model(ModelSpec("smollm2-135m-instruct", CAUSAL_LM, str(models / "smollm2-135m-instruct")))
    model, tokenizer = loaded.model, loaded.tokenizer
    prompts = texts(tokenizer, args.repeats + 1)
    ablations = lens.parse_ablations("13.8", layers=30, heads=9)
    timings = {"forward": [], "grid": [], "ablation": []}
    size = 0
    for i, ids in enumerate(prompts):  # the first round warms the model up and is not counted
        started = time.perf_counter()
        with torch.no_grad():
            model(input_ids=torch.tensor([ids]), use_cache=False)
        forward = time.perf_counter() - started
        started = time.perf_counter()
        grid = lens.lens_grid(model, tokenizer, ids, pick=lens.token_id(tokenizer, " the"))
        payload = grid.payload(tokenizer)
        grid_s = time.perf_counter() - started
        started = time.perf_counter()
        lens.ablate(model, ids, ablations).payload(tokenizer, pick=lens.token_id(tokenizer, " the"))
        ablation = time.perf_counter() - started
        if i:
            timings["forward"].append(forward)
            timings["grid"].append(grid_s)
            timings["ablation"].append(ablation)
            size = len(json.dumps(payload))
    forward = statistics.median(timings["forward"])
    print(f"torch threads {torch.get_num_threads()}, packed linears {loaded.info['packed_linears']}, "
          f"load average {os.getloadavg()[0]:.2f}")
    for name in ("forward", "grid", "ablation"):
        median = statistics.median(timings[name])
        print(f"{name:9s} median {1000 * median:7.0f} ms  (min {1000 * min(timings[name]):.0f}, "
              f"max {1000 * max(timings[name]):.0f})  × {median / forward:.1f} a forward pass")
    print(f"grid JSON (30 layers × 64 positions, top-5 + picked token): {size / 1024:.1f} KB")


if __name__ == "__main__":
    main()
