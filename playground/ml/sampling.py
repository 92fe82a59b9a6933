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
    generator (one number each), so a seed gives the same text in any batch.
    """
    batch, vocab = logits.shape
    device = logits.device
    model_probs = torch.softmax(logits, dim=-1)  # (B, V) the model's own distribution
    column = lambda values, dtype=torch.float32: torch.tensor(values, dtype=dtype, device=device).unsqueeze(1)  # noqa: E731
    # Repetition penalty on the raw logits: divide positive, multiply negative scores.
    penalty = [p.repetition_penalty for p in params]
    scores = logits
    if seen is not None and any(x != 1.0 for x in penalty):
        pen = column(penalty)  # (B, 1)
        scores = torch.where(seen, torch.where(logits > 0, logits / pen, logits * pen), logits)
    greedy = column([p.greedy for p in params], torch.bool)  # (B, 1)
    # Temperature, then top-k (ties with the k-th score stay, as in generate()).
    temperature = column([p.temperature if not p.greedy else 1.0 for p in params])
    scaled = scores / temperature
    ks = [p.top_k if 0 < p.top_k < vocab else vocab for p in params]
    if min(ks) < vocab:
        kmax = max(ks)
        kth = torch.topk(scaled, kmax, dim=-1).values.gather(1, column([k - 1 for k in ks], torch.long))  # (B, 1)
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    probs = torch.softmax(scaled, dim=-1)  # (B, V)
    top_ps = [p.top_p for p in params]
    if min(top_ps) < 1.0:
        sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
        # Drop a token once the mass before it already reaches top_p (always keep the first).
        drop = (torch.cumsum(sorted_probs, dim=-1) - sorted_probs) >= column(top_ps)
        sorted_probs = sorted_probs.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter(1, order, sorted_probs)
        probs = probs / probs.sum(dim=-1, keepdim=True)
    # Greedy rows: all mass on the best (penalised) score.
    best = scores.argmax(dim=-1, keepdim=True)  # (B, 1)
    one_hot = torch.zeros_like(probs).scatter(1, best, 1.0)
    probs = torch.where(greedy, one_hot, probs)
    # Sample by inverting each row's CDF at a uniform draw.
    draws = [float(torch.rand(1, generator=g)) if g is not None else 0.0 for g in generators]
    uniform = torch.rand(batch, 1, device=device)
    seeded = column([g is not None for g in generators], torch.bool)
    uniform = torch.where(seeded, column(draws), uniform)
    cdf = torch.cumsum(probs, dim=-1)  # (B, V)
    sampled = torch.searchsorted(cdf, uniform * cdf[:, -1:], right=True).clamp_(max=vocab - 1)
    token = torch.where(greedy, best, sampled)  # (B, 1)
    top_values, top_indices = torch.topk(model_probs, top, dim=-1)  # (B, k)
    # One copy to the CPU for everything the events need.
    top_sampled = probs.gather(1, top_indices)  # (B, k) 0 where top-k or top-p removed the token
    packed = torch.cat([token.double(), model_probs.gather(1, token).double(), probs.gather(1, token).double(),
                        top_indices.double(), top_values.double(), top_sampled.double()],
                       dim=1).cpu().tolist()  # (B, 3 + 3k)
    return BatchChoice(
        tokens=[int(row[0]) for row in packed], p=[row[1] for row in packed], p_sample=[row[2] for row in packed],
        top_ids=[[int(i) for i in row[3:3 + top]] for row in packed], top_p=[row[3 + top:3 + 2 * top] for row in packed],
        top_q=[row[3 + 2 * top:] for row in packed],
    )
