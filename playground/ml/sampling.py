"""Turn one row of next-token logits into a choice, as the playground's controls say.

The order follows transformers' generate(): repetition penalty on the raw logits,
then temperature, then top-k, then top-p. Temperature 0 means greedy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.7  # 0 = greedy (argmax); higher flattens the distribution
    top_k: int = 50  # keep the k most likely tokens; 0 = no limit
    top_p: float = 1.0  # keep the smallest set whose probability reaches p; 1 = no limit
    repetition_penalty: float = 1.0  # >1 discourages tokens already in the text (CTRL paper)
    max_new_tokens: int = 128
    seed: int | None = None  # same seed + same params + same prompt = same text

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass
class BatchChoice:
    """What one decoding step chose for every row, already on the CPU."""

    tokens: list[int]  # (B,)
    p: list[float]  # the model's probability of each chosen token
    p_sample: list[float]  # its probability in the distribution actually sampled
    top_ids: list[list[int]]  # (B, k) the model's k most likely tokens
    top_p: list[list[float]]  # (B, k) and their probabilities
    top_q: list[list[float]]  # (B, k) the same tokens' probabilities in the sampled distribution (0 = filtered out)


def choose_batch(logits: torch.Tensor, params: list[SamplingParams], generators: list[torch.Generator | None],
                 seen: torch.Tensor | None, top: int = 5) -> BatchChoice:
    """Choose the next token of every row at once.

    logits: (B, V) raw scores; seen: (B, V) bool, the tokens already in each row's text
    (for the repetition penalty). One set of tensor operations for the whole batch and
    one copy to the CPU at the end; only the uniform draws of seeded rows use their own
    generator (one number each), so a seed gives the same text in any batch. Greedy rows
    need no distribution of their own (all mass on the best score), so the sampling
    work is done for the sampled rows only, and top-p sorts only what top-k kept.
    """
    batch, vocab = logits.shape
    device = logits.device
    model_probs = torch.softmax(logits, dim=-1)  # (B, V) the model's own distribution
    top_values, top_indices = torch.topk(model_probs, top, dim=-1)  # (B, k)
    # Repetition penalty on the raw logits: divide positive, multiply negative scores.
    penalty = [p.repetition_penalty for p in params]
    scores = logits
    if seen is not None and any(x != 1.0 for x in penalty):
        pen = _column(penalty, device)  # (B, 1)
        scores = torch.where(seen, torch.where(logits > 0, logits / pen, logits * pen), logits)
    # Greedy rows: all mass on the best (penalised) score.
    token = scores.argmax(dim=-1, keepdim=True)  # (B, 1)
    p_sample = torch.ones(batch, 1, device=device)
    top_sampled = (top_indices == token).float()  # (B, k) the greedy distribution at the top-k ids
    rows = [i for i, p in enumerate(params) if not p.greedy]
    if rows:
        index = torch.tensor(rows, device=device)
        probs = _sampling_distribution(scores[index], [params[i] for i in rows])  # (S, V)
        # Sample by inverting each row's CDF at a uniform draw.
        draws = [float(torch.rand(1, generator=generators[i])) if generators[i] is not None else None for i in rows]
        uniform = torch.rand(len(rows), 1, device=device)
        if any(d is not None for d in draws):
            seeded = _column([d is not None for d in draws], device, torch.bool)
            uniform = torch.where(seeded, _column([d or 0.0 for d in draws], device), uniform)
        cdf = torch.cumsum(probs, dim=-1)  # (S, V)
        sampled = torch.searchsorted(cdf, uniform * cdf[:, -1:], right=True).clamp_(max=vocab - 1)  # (S, 1)
        token[index] = sampled
        p_sample[index] = probs.gather(1, sampled)
        top_sampled[index] = probs.gather(1, top_indices[index])  # 0 where top-k or top-p removed the token
    # One copy to the CPU for everything the events need.
    packed = torch.cat([token.double(), model_probs.gather(1, token).double(), p_sample.double(),
                        top_indices.double(), top_values.double(), top_sampled.double()],
                       dim=1).cpu().tolist()  # (B, 3 + 3k)
    return BatchChoice(
        tokens=[int(row[0]) for row in packed], p=[row[1] for row in packed], p_sample=[row[2] for row in packed],
        top_ids=[[int(i) for i in row[3:3 + top]] for row in packed], top_p=[row[3 + top:3 + 2 * top] for row in packed],
        top_q=[row[3 + 2 * top:] for row in packed],
    )


def _column(values, device, dtype=torch.float32) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype, device=device).unsqueeze(1)


def _sampling_distribution(scores: torch.Tensor, params: list[SamplingParams]) -> torch.Tensor:
    """The distribution each sampled row draws from: temperature, then top-k (ties with the
    k-th score stay, as in generate()), then top-p. scores: (S, V) penalised logits."""
    vocab = scores.shape[1]
    device = scores.device
    scaled = scores / _column([p.temperature for p in params], device)
    ks = [p.top_k if 0 < p.top_k < vocab else vocab for p in params]
    candidates = vocab  # how many tokens any row may still draw
    if min(ks) < vocab:
        kth = torch.topk(scaled, max(ks), dim=-1).values.gather(1, _column([k - 1 for k in ks], device, torch.long))
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
        candidates = vocab if max(ks) == vocab else int(torch.isfinite(scaled).sum(dim=-1).max())
    probs = torch.softmax(scaled, dim=-1)  # (S, V)
    top_ps = [p.top_p for p in params]
    if min(top_ps) < 1.0:
        # Only the candidates can carry mass, so sorting them is enough.
        if candidates < vocab:
            sorted_probs, order = torch.topk(probs, candidates, dim=-1)
        else:
            sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
        # Drop a token once the mass before it already reaches top_p (always keep the first).
        drop = (torch.cumsum(sorted_probs, dim=-1) - sorted_probs) >= _column(top_ps, device)
        sorted_probs = sorted_probs.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter(1, order, sorted_probs)
        probs = probs / probs.sum(dim=-1, keepdim=True)
    return probs
