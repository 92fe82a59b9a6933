"""The quick CPU fine-tune preset through our real path against a bare PyTorch loop.

    .venv/bin/python bench/finetune_bench.py [--preset cpu-quick] [--model DIR] [--repeats 1] [--device cpu]

On a GPU: `--preset gpu-standard --device cuda` (both loops then run bf16 autocast).

Real path: `training.ml.runner.TrainingChild` + `supervise`, exactly what the Celery
task runs (a spawned `python -m training.ml.child`: model load, eval before, the
steps, eval after, save), minus the DB writes. Bare loop: in this process, the same
model, the same LoRA (r=8 on q_proj/v_proj), the same batches in the same order and
the same number of steps; forward, backward, AdamW step, nothing else.

Prints the training-loop tokens/s of each, their ratio (the issue asks for >= 0.8),
and the quick preset's wall time from spawn to exit (asked: < 3 minutes).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")


def quick_params(preset: str) -> dict:
    import django

    django.setup()
    from training.params import params_build

    return params_build(kind="causal_lm", preset=preset, method="lora")


def real_path(cfg, rows) -> dict:
    from training.ml.runner import TrainingChild, supervise

    started = time.perf_counter()
    child = TrainingChild(config=cfg.to_dict(), rows=rows, stderr_path=Path(cfg.output_dir) / "stderr.log")
    outcome = supervise(child, on_event=lambda e: None, cancel_requested=lambda: False, heartbeat=lambda: None)
    wall = time.perf_counter() - started
    if outcome.status != "succeeded":
        raise SystemExit(f"the real path failed: {outcome.reason}")
    return {"tokens_per_second": outcome.result["tokens_per_second"], "wall_seconds": wall,
            "train_seconds": outcome.result["train_seconds"], "tokens": outcome.result["train_tokens"]}


def bare_loop(cfg, rows) -> dict:
    import contextlib

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from playground.ml.loading import resolve_device
    from training.ml.datasets import split_rows
    from training.ml.train import batch_indices, collate_causal, encode_pairs

    torch.manual_seed(cfg.seed)
    device = resolve_device(cfg.device)
    cuda = device.startswith("cuda")
    tokenizer = AutoTokenizer.from_pretrained(cfg.base_path)
    model = AutoModelForCausalLM.from_pretrained(cfg.base_path, dtype=torch.float32).to(device)
    model = get_peft_model(model, LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=0.0,
                                             target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    train_rows, _ = split_rows(rows, eval_fraction=cfg.eval_fraction, seed=cfg.seed)
    examples = encode_pairs(tokenizer, train_rows, cfg.seq_len)
    # The same batches in the same order as the real loop.
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    batches = [collate_causal([examples[i] for i in indices], pad, device)
               for indices in batch_indices(len(examples), cfg)]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.learning_rate)
    model.train()
    tokens = 0
    started = time.perf_counter()
    for batch in batches:
        with torch.autocast("cuda", dtype=torch.bfloat16) if cuda else contextlib.nullcontext():
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += int(batch["attention_mask"].sum())
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return {"tokens_per_second": tokens / seconds, "train_seconds": seconds, "tokens": tokens}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu-quick")
    parser.add_argument("--model", default=str(ROOT / "var" / "models" / "smollm2-135m-instruct"))
    parser.add_argument("--repeats", type=int, default=1, help="alternate real/bare this many times; report medians")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (both loops use it)")
    args = parser.parse_args()

    from training.ml.datasets import load_builtin
    from training.ml.train import TrainConfig

    p = quick_params(args.preset)
    rows = load_builtin("company-faq").rows
    real, bare = [], []
    with tempfile.TemporaryDirectory() as out:
        cfg = TrainConfig(kind="causal_lm", base_path=args.model, output_dir=out, method="lora", steps=p["steps"],
                          batch_size=p["batch_size"], seq_len=p["seq_len"], learning_rate=p["learning_rate"],
                          warmup_steps=p["warmup_steps"], lora_r=p["lora_r"], lora_alpha=2 * p["lora_r"],
                          eval_fraction=p["eval_fraction"], seed=p["seed"], device=args.device)
        print(f"preset {args.preset}: {cfg.steps} steps x batch {cfg.batch_size} x <= {cfg.seq_len} tokens, "
              f"LoRA r={cfg.lora_r} on q/v, device {args.device}, {os.cpu_count()} CPUs")
        for i in range(args.repeats):
            real.append(real_path(cfg, rows))
            bare.append(bare_loop(cfg, rows))
            print(f"  run {i + 1}: real {real[-1]['tokens_per_second']:.1f} tok/s "
                  f"(wall {real[-1]['wall_seconds']:.1f} s), bare {bare[-1]['tokens_per_second']:.1f} tok/s")
    r = statistics.median(x["tokens_per_second"] for x in real)
    b = statistics.median(x["tokens_per_second"] for x in bare)
    wall = statistics.median(x["wall_seconds"] for x in real)
    assert real[0]["tokens"] == bare[0]["tokens"], "the two loops did not train on the same tokens"
    print(f"real path (child process) training loop: {r:.1f} tok/s")
    print(f"bare PyTorch loop:                       {b:.1f} tok/s")
    print(f"ratio real/bare: {r / b:.2f}  (asked: >= 0.8)")
    print(f"quick preset wall time, spawn to exit (load, eval before/after, save): {wall:.1f} s  (asked: < 180 s)")


if __name__ == "__main__":
    main()
