"""Fine-tune loops: a causal LM (LoRA or full) and a sequence classifier, with eval.

Run inside the spawned child process (`child.py`); the Celery worker's parent never
imports this. Progress goes out through `report(event)`; `should_stop()` is checked
between steps, so a cancel ends the loop cleanly before the parent has to kill us.

    causal LM: chat-formatted prompt → response, loss on the response tokens only,
               eval = perplexity exp(mean NLL) on the held-out split
    classifier: [CLS] pooled encoder + a new head, eval = accuracy + confusion matrix
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from playground.ml.kinds import CAUSAL_LM, CLASSIFIER
from playground.ml.loading import resolve_device

from .datasets import split_rows

LORA = "lora"
FULL = "full"


@dataclass
class TrainConfig:
    kind: str  # CAUSAL_LM or CLASSIFIER
    base_path: str  # folder that from_pretrained reads
    output_dir: str  # where the adapter / model is saved
    method: str = LORA  # LORA or FULL (classifiers always train fully)
    steps: int = 24  # optimizer steps
    batch_size: int = 4  # sequences per step
    seq_len: int = 64  # tokens per sequence (truncated, padded per batch)
    learning_rate: float = 2e-4
    warmup_steps: int = 2  # linear warm-up, then linear decay to 0
    lora_r: int = 8  # LoRA rank on q_proj / v_proj
    lora_alpha: int = 16
    eval_fraction: float = 0.2  # share of rows held out for evaluation
    max_eval_rows: int = 16  # caps eval time on big datasets
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int = 0  # torch CPU threads; 0 = torch's default (the parent passes the resource policy's)
    priority: str = "normal"  # CPU priority the child takes at start (playground.ml.resources)
    cuda_memory_fraction: float = 0.0  # cap on this process's share of the GPU's memory; 0 = none
    labels: list[str] = field(default_factory=list)  # classifier label set

    def to_dict(self) -> dict:
        return asdict(self)


class Stopped(Exception):
    """The parent asked us to stop (cancel)."""


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up for `warmup_steps`, then linear decay to zero at `steps`."""
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    remaining = max(1, cfg.steps - cfg.warmup_steps)
    return cfg.learning_rate * max(0.0, 1 - (step - cfg.warmup_steps) / remaining)


def batch_indices(n_rows: int, cfg: TrainConfig) -> list[list[int]]:
    """Row indices of every step's batch: a shuffled walk, reshuffled at each epoch."""
    rng = random.Random(cfg.seed)  # noqa: S311  (reproducible batches, not security)
    order: list[int] = []
    batches = []
    for _ in range(cfg.steps):
        batch = []
        while len(batch) < cfg.batch_size:
            if not order:
                order = list(range(n_rows))
                rng.shuffle(order)
            batch.append(order.pop())
        batches.append(batch)
    return batches


# --- causal LM ------------------------------------------------------------------------
def encode_pairs(tokenizer, rows: list[dict], seq_len: int) -> list[tuple[list[int], list[int]]]:
    """Chat-format each pair; labels are -100 on the prompt so only the answer is learnt."""
    out = []
    has_template = bool(getattr(tokenizer, "chat_template", None))
    for row in rows:
        if has_template:
            user = [{"role": "user", "content": row["prompt"]}]
            prompt_ids = tokenizer.apply_chat_template(user, add_generation_prompt=True, tokenize=True)
            full_ids = tokenizer.apply_chat_template(
                [*user, {"role": "assistant", "content": row["response"]}], tokenize=True)
            if hasattr(prompt_ids, "input_ids") or isinstance(prompt_ids, dict):
                prompt_ids, full_ids = prompt_ids["input_ids"], full_ids["input_ids"]
        else:
            prompt_ids = tokenizer(row["prompt"] + "\n")["input_ids"]
            full_ids = prompt_ids + tokenizer(row["response"])["input_ids"] + [tokenizer.eos_token_id]
        # Too long: drop the start of the prompt (the chat template's system text comes
        # first) rather than the answer; keep at least the last 8 prompt tokens, which
        # hold the "assistant" header, and cut the answer only if it still won't fit.
        full_ids, n_prompt = list(full_ids), len(prompt_ids)
        overflow = len(full_ids) - seq_len
        if overflow > 0:
            cut = min(overflow, max(0, n_prompt - 8))
            full_ids, n_prompt = full_ids[cut:], n_prompt - cut
        ids = full_ids[:seq_len]
        labels = [-100] * min(n_prompt, len(ids)) + ids[n_prompt:]
        out.append((ids, labels))
    return out


def collate_causal(examples, pad_id: int, device: str):
    import torch

    width = max(len(ids) for ids, _ in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)  # (B, T)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)  # (B, T)
    mask = torch.zeros((len(examples), width), dtype=torch.long)  # (B, T)
    for i, (ids, lab) in enumerate(examples):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        labels[i, : len(lab)] = torch.tensor(lab)
        mask[i, : len(ids)] = 1
    return {"input_ids": input_ids.to(device), "attention_mask": mask.to(device), "labels": labels.to(device)}


def perplexity(model, examples, pad_id: int, device: str, batch_size: int, autocast) -> dict:
    """exp(mean NLL) over every answer token of the held-out split."""
    import torch

    model.eval()
    total_nll, total_tokens = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(examples), batch_size):
            batch = collate_causal(examples[start: start + batch_size], pad_id, device)
            with autocast():
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            shift_logits = logits[:, :-1].float()  # (B, T-1, V)
            shift_labels = batch["labels"][:, 1:]  # (B, T-1)
            nll = torch.nn.functional.cross_entropy(
                shift_logits.reshape(-1, shift_logits.size(-1)), shift_labels.reshape(-1),
                ignore_index=-100, reduction="sum")
            total_nll += nll.item()
            total_tokens += int((shift_labels != -100).sum())
    model.train()
    mean = total_nll / max(1, total_tokens)
    return {"perplexity": round(math.exp(min(mean, 50)), 4), "loss": round(mean, 4), "tokens": total_tokens,
            "rows": len(examples)}


# --- classifier -----------------------------------------------------------------------
def collate_classifier(tokenizer, rows, label_ids: dict, seq_len: int, device: str):
    import torch

    enc = tokenizer([r["text"] for r in rows], truncation=True, max_length=seq_len, padding=True,
                    return_tensors="pt")
    enc = {k: v.to(device) for k, v in enc.items()}  # each (B, T)
    enc["labels"] = torch.tensor([label_ids[r["label"]] for r in rows], device=device)  # (B,)
    return enc


def accuracy(model, tokenizer, rows, cfg: TrainConfig, label_ids: dict, device: str, autocast) -> dict:
    import torch

    n = len(cfg.labels)
    matrix = [[0] * n for _ in range(n)]  # rows: true label, columns: predicted
    model.eval()
    with torch.no_grad():
        for start in range(0, len(rows), cfg.batch_size):
            chunk = rows[start: start + cfg.batch_size]
            batch = collate_classifier(tokenizer, chunk, label_ids, cfg.seq_len, device)
            labels = batch.pop("labels")
            with autocast():
                predicted = model(**batch).logits.argmax(-1)  # (B,)
            for truth, guess in zip(labels.tolist(), predicted.tolist(), strict=True):
                matrix[truth][guess] += 1
    model.train()
    correct = sum(matrix[i][i] for i in range(n))
    return {"accuracy": round(correct / max(1, len(rows)), 4), "confusion": matrix, "labels": cfg.labels,
            "rows": len(rows)}


# --- the loop ---------------------------------------------------------------------------
def run_training(cfg: TrainConfig, rows: list[dict], *, report: Callable[[dict], None],
                 should_stop: Callable[[], bool] = lambda: False) -> dict:
    """Train, evaluate before and after, save; returns the summary the parent stores."""
    import contextlib

    import torch

    started = time.perf_counter()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = resolve_device(cfg.device)
    cuda = device.startswith("cuda")
    if cuda and cfg.cuda_memory_fraction:
        # Past the cap the allocator raises OutOfMemoryError here, not in the model worker.
        torch.cuda.set_per_process_memory_fraction(cfg.cuda_memory_fraction, torch.device(device))

    def autocast():
        # bf16 autocast on the GPU; on the CPU bf16 is slower than fp32, so plain fp32.
        return torch.autocast("cuda", dtype=torch.bfloat16) if cuda else contextlib.nullcontext()

    from playground.ml.resources import scheduling_of

    report({"type": "started", "device": device, "torch_threads": torch.get_num_threads(), **scheduling_of(),
            "cuda_memory_fraction": cfg.cuda_memory_fraction if cuda else None})
    if os.environ.get("LLM_TEST_TRAINING_FAULT") == "cuda_oom":  # tests only: the OOM path on a CPU host
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected by LLM_TEST_TRAINING_FAULT)")
    train_rows, eval_rows = split_rows(rows, eval_fraction=cfg.eval_fraction, seed=cfg.seed)
    eval_rows = eval_rows[: cfg.max_eval_rows]
    report({"type": "log", "message": f"{len(train_rows)} training rows, {len(eval_rows)} held out; device {device}"})

    if cfg.kind == CAUSAL_LM:
        model, tokenizer, step_fn, evaluate, tokens_of = _setup_causal(cfg, train_rows, eval_rows, device, autocast)
    elif cfg.kind == CLASSIFIER:
        model, tokenizer, step_fn, evaluate, tokens_of = _setup_classifier(cfg, train_rows, eval_rows, device, autocast)
    else:
        raise ValueError(f"unknown job kind {cfg.kind!r}")
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    report({"type": "log", "message": f"model loaded in {time.perf_counter() - started:.1f} s; "
                                      f"{trainable:,} of {total:,} parameters train"})
    report({"type": "eval", "phase": "before", "metrics": evaluate()})

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.learning_rate,
                                  weight_decay=0.0)
    model.train()
    batches = batch_indices(len(train_rows), cfg)
    train_tokens, train_seconds = 0, 0.0
    for step, indices in enumerate(batches):
        if should_stop():
            raise Stopped()
        batch_rows = [train_rows[i] for i in indices]
        t0 = time.perf_counter()
        lr = lr_at(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        # forward + backward + update
        loss, tokens = step_fn(batch_rows)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - t0
        train_tokens += tokens
        train_seconds += elapsed
        report({"type": "progress", "step": step + 1, "steps": cfg.steps, "loss": round(loss.item(), 5),
                "lr": lr, "tokens": tokens, "step_seconds": round(elapsed, 4),
                "tokens_per_second": round(train_tokens / train_seconds, 2)})

    after = evaluate()
    report({"type": "eval", "phase": "after", "metrics": after})
    model.save_pretrained(cfg.output_dir)
    tokenizer.save_pretrained(cfg.output_dir)
    report({"type": "log", "message": f"saved to {cfg.output_dir}"})
    return {"device": device, "train_tokens": train_tokens, "train_seconds": round(train_seconds, 3),
            "tokens_per_second": round(train_tokens / max(train_seconds, 1e-9), 2),
            "total_seconds": round(time.perf_counter() - started, 3)}


def _setup_causal(cfg, train_rows, eval_rows, device, autocast):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(cfg.base_path)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    # fp32 weights everywhere: on the GPU autocast runs the matmuls in bf16.
    model = AutoModelForCausalLM.from_pretrained(cfg.base_path, dtype=torch.float32).to(device)
    if cfg.method == LORA:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=0.0,
                                                 target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    elif cfg.method != FULL:
        raise ValueError(f"unknown method {cfg.method!r}")
    train_examples = encode_pairs(tokenizer, train_rows, cfg.seq_len)
    eval_examples = encode_pairs(tokenizer, eval_rows, cfg.seq_len)
    by_row = {id(r): ex for r, ex in zip(train_rows, train_examples, strict=True)}
    pad = tokenizer.pad_token_id

    def step_fn(batch_rows):
        examples = [by_row[id(r)] for r in batch_rows]
        batch = collate_causal(examples, pad, device)
        with autocast():
            loss = model(**batch).loss
        return loss, int(batch["attention_mask"].sum())

    def evaluate():
        return perplexity(model, eval_examples, pad, device, cfg.batch_size, autocast)

    return model, tokenizer, step_fn, evaluate, None


def _setup_classifier(cfg, train_rows, eval_rows, device, autocast):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    labels = cfg.labels or sorted({r["label"] for r in train_rows + eval_rows})
    cfg.labels = labels
    label_ids = {label: i for i, label in enumerate(labels)}
    tokenizer = AutoTokenizer.from_pretrained(cfg.base_path)
    model = AutoModelForSequenceClassification.from_pretrained(
        cfg.base_path, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label_ids,
        dtype=torch.float32).to(device)

    def step_fn(batch_rows):
        batch = collate_classifier(tokenizer, batch_rows, label_ids, cfg.seq_len, device)
        with autocast():
            loss = model(**batch).loss
        return loss, int(batch["attention_mask"].sum())

    def evaluate():
        return accuracy(model, tokenizer, eval_rows, cfg, label_ids, device, autocast)

    return model, tokenizer, step_fn, evaluate, None
