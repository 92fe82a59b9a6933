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


def apply_repetition_penalty(logits: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    """logits: (V,), seen: (n,) token ids. Divide positive, multiply negative scores."""
    if penalty == 1.0 or seen.numel() == 0:
        return logits
    logits = logits.clone()
    scores = logits[seen]
    logits[seen] = torch.where(scores > 0, scores / penalty, scores * penalty)
    return logits


def sampling_distribution(logits: torch.Tensor, params: SamplingParams) -> torch.Tensor:
    """The probabilities actually sampled from (V,), after temperature, top-k and top-p."""
    if params.greedy:
        probs = torch.zeros_like(logits)
        probs[logits.argmax()] = 1.0
        return probs
    scaled = logits / params.temperature
    if 0 < params.top_k < scaled.numel():
        kth = torch.topk(scaled, params.top_k).values[-1]
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    probs = torch.softmax(scaled, dim=-1)
    if params.top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        # Drop a token once the mass before it already reaches top_p (always keep the first).
        drop = (torch.cumsum(sorted_probs, dim=-1) - sorted_probs) >= params.top_p
        sorted_probs = sorted_probs.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter(0, order, sorted_probs)
        probs = probs / probs.sum()
    return probs


def choose(probs: torch.Tensor, params: SamplingParams, generator: torch.Generator | None) -> int:
    if params.greedy:
        return int(probs.argmax())
    return int(torch.multinomial(probs, 1, generator=generator))
