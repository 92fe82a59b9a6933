"""Attention weights for the heatmap and bertviz views.

Streaming uses SDPA, which returns no attention weights, so attention comes from a
separate forward pass through an "eager" twin of the loaded model: a second module
that shares the very same weight tensors (no copy) but computes attention explicitly.

Weights are quantized to uint8 (w * 255, rounded): a layer of 9 heads over 64 tokens
is 36 KB, and the error is at most 1/510 per weight.
"""

from __future__ import annotations

import base64
import copy
from collections import OrderedDict
from dataclasses import dataclass

import torch

SCALE = 1 / 255


def eager_twin(model):
    """A module computing eager attention with `model`'s own parameters (shared, not copied)."""
    config = copy.deepcopy(model.config)
    config._attn_implementation = "eager"
    with torch.device("meta"):
        twin = type(model)(config)
    twin.load_state_dict(model.state_dict(), assign=True, strict=False)
    # Tied embeddings and non-persistent buffers (rotary inv_freq) are not in the state
    # dict; take them from the original.
    for name, buffer in model.named_buffers():
        module_name, _, attr = name.rpartition(".")
        setattr(twin.get_submodule(module_name) if module_name else twin, attr, buffer)
    if getattr(config, "tie_word_embeddings", False) and hasattr(twin, "tie_weights"):
        twin.tie_weights()
    return twin.eval()


@dataclass
class AttentionMaps:
    tokens: list[str]  # readable token texts, one per position
    ids: list[int]
    weights: torch.Tensor  # (layers, heads, T, T) uint8; weight ≈ value / 255

    @property
    def shape(self):
        return tuple(self.weights.shape)

    def payload(self, layer: int, head: int | None = None) -> dict:
        """One layer's weights for every head (head=None), or one head's, base64-encoded."""
        layers, heads, t, _ = self.weights.shape
        block = self.weights[layer] if head is None else self.weights[layer, head : head + 1]  # (h, T, T)
        payload = {"layers": layers, "heads": heads, "layer": layer, "tokens": self.tokens, "ids": self.ids,
                   "encoding": "uint8", "scale": SCALE, "shape": list(block.shape),
                   "data": base64.b64encode(block.contiguous().numpy().tobytes()).decode("ascii")}
        if head is not None:
            payload["head"] = head
        return payload

    def as_float(self, layers: list[int]) -> list[torch.Tensor]:
        """bertviz's input: one (1, heads, T, T) float tensor per requested layer."""
        return [self.weights[i].float().mul(SCALE).unsqueeze(0) for i in layers]


def compute(twin, tokenizer, ids: list[int]) -> AttentionMaps:
    """One eager forward pass over `ids`; returns every layer's attention, quantized."""
    device = next(twin.parameters()).device
    with torch.no_grad():
        out = twin(input_ids=torch.tensor([ids], device=device), output_attentions=True)
    stacked = torch.stack([a[0] for a in out.attentions]).float()  # (layers, heads, T, T)
    quantized = stacked.mul(255).round().clamp(0, 255).to(torch.uint8).cpu()
    tokens = [tokenizer.decode([i], clean_up_tokenization_spaces=False) for i in ids]
    return AttentionMaps(tokens=tokens, ids=list(ids), weights=quantized)


class AttentionCache:
    """Recently computed maps, keyed by run or text; small and per worker."""

    def __init__(self, size: int = 8):
        self.size = size
        self._items: OrderedDict = OrderedDict()

    def get(self, key):
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        return None

    def put(self, key, value):
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
