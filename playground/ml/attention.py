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

from .cpu_linear import PackedLinear
from .errors import RequestError

SCALE = 1 / 255


def eager_twin(model):
    """A module computing eager attention with `model`'s own parameters (shared, not copied)."""
    config = copy.deepcopy(model.config)
    config._attn_implementation = "eager"
    with torch.device("meta"):
        twin = type(model)(config)
    # Layers whose weights live outside the state dict (oneDNN's packed copies, cpu_linear)
    # are shared as they are.
    packed = [(name, module) for name, module in model.named_modules() if isinstance(module, PackedLinear)]
    for name, module in packed:
        _set_at(twin, name, module)
    twin.load_state_dict(model.state_dict(), assign=True, strict=False)
    # Tied embeddings and non-persistent buffers (rotary inv_freq) are not in the state
    # dict; take them from the original.
    for name, buffer in model.named_buffers():
        _set_at(twin, name, buffer)
    if getattr(config, "tie_word_embeddings", False) and hasattr(twin, "tie_weights") and not packed:
        twin.tie_weights()
    left = [name for name, tensor in twin.named_parameters() if tensor.is_meta]
    if left:
        raise RuntimeError(f"eager twin: weights not shared from the loaded model: {left[:3]}")
    return twin.eval()


def _set_at(root, dotted_name: str, value):
    """Set a submodule or tensor of `root` by its dotted name ("model.layers.0.mlp")."""
    parent, _, attr = dotted_name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, attr, value)


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


# --- what a request may ask for ----------------------------------------------------------

class AttentionRequestError(RequestError):
    """An attention request the worker refuses."""


@dataclass(frozen=True)
class AttentionLimits:
    max_tokens: int = 256  # any view; more is refused before the forward pass
    head_view_tokens: int = 48  # bertviz head view
    model_view_tokens: int = 32  # bertviz model view
    max_layers: int = 4  # bertviz layers in one script

    def cap(self, view: str) -> int:
        return {"layer": self.max_tokens, "head": self.head_view_tokens, "model": self.model_view_tokens}[view]


def source_ids(tokenizer, *, causal: bool, limits: AttentionLimits, run: dict | None = None,
               text: str | None = None) -> list[int]:
    """Token ids to look at: a saved run (prompt + generated) or a text."""
    from .prompts import build_prompt

    if run is not None:
        ids, _ = build_prompt(tokenizer, run["prompt"], run["mode"], max_tokens=10**6)
        ids = ids + list(run["generated"])
    elif causal:
        ids = tokenizer(text or "", add_special_tokens=False)["input_ids"]
    else:
        ids = tokenizer(text or "")["input_ids"]  # [CLS] … [SEP], as the encoder was trained
    if not ids:
        raise AttentionRequestError("no_text")
    if len(ids) > limits.max_tokens:
        raise AttentionRequestError("too_long", tokens=len(ids), limit=limits.max_tokens, view="heatmap")
    return list(ids)


def check_view(maps: AttentionMaps, *, view: str, limits: AttentionLimits, layer=0, head=None,
               include_layers=None) -> list[int]:
    """Refuse what `view` cannot show; returns the layers a bertviz view draws."""
    if view not in ("layer", "head", "model"):
        raise AttentionRequestError("bad_request")
    layers, heads, length, _ = maps.shape
    if length > limits.cap(view):
        raise AttentionRequestError("too_long", tokens=length, limit=limits.cap(view),
                                    view="heatmap" if view == "layer" else view)
    if view == "layer":
        if not isinstance(layer, int) or isinstance(layer, bool) or not 0 <= layer < layers:
            raise AttentionRequestError("bad_layer", max=layers - 1)
        if head is not None and (not isinstance(head, int) or isinstance(head, bool) or not 0 <= head < heads):
            raise AttentionRequestError("bad_head", max=heads - 1)
        return [layer]
    include = list(include_layers or range(layers))[: limits.max_layers]
    if not include or any(not isinstance(i, int) or not 0 <= i < layers for i in include):
        raise AttentionRequestError("bad_layer", max=layers - 1)
    return include
