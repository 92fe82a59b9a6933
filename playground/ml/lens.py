"""The logit lens and ablation: where inside a causal LM the next token is decided.

Logit lens. A decoder keeps one hidden vector per position in its residual stream, and
every layer adds to it. The model reads the prediction off the last one: final RMSNorm,
then the LM head. Applying that same norm and head to the stream after *each* layer
says what the model would predict if it stopped there. Row `l` of the grid is the
stream after decoder layer `l` (0-based, as the attention page counts), so the last
row is the model's own output distribution.

Ablation. Switch parts of the model off and read the next-token distribution again:
  - a head ("13.8" = layer 13, head 8): its slice of o_proj's input (the head's output
    before the heads are mixed) is zeroed, which removes exactly that head's term of the
    attention output, o_proj(x) = sum over heads of W[:, slice_h] x_h;
  - a layer's attention ("13.attn") or MLP ("13.mlp"): that sublayer's output, the
    update it adds to the residual stream, is zeroed.
Mode "mean" replaces the same tensor by its mean over the prompt's positions instead
of zero (a milder switch-off: the part keeps its average effect, loses what depends on
the text).

Both run on the model the worker serves (oneDNN-packed linears on the CPU included), so
the last lens row and the unablated distribution are the numbers the playground shows.
Hooks act only in the thread that registered them: the batch engine and the eager twin
share these modules and keep running beside an ablation.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from .errors import RequestError

PROB_SCALE = 65535  # probabilities travel as integers p * 65535 (error below 1e-5)
ROW_CHUNK = 256  # rows through the LM head at once: 256 x 49152 floats = 48 MiB


class LensRequestError(RequestError):
    """A layer-view or switch-off request the worker refuses."""


@dataclass(frozen=True)
class LensLimits:
    max_tokens: int = 64  # positions in one grid (LLM_LENS_MAX_TOKENS); more is refused before any compute
    top_k: int = 5  # tokens shown per cell
    max_ablations: int = 32  # heads or sublayers switched off in one request


def source_ids(tokenizer, *, limits: LensLimits, run: dict | None = None, text: str | None = None) -> list[int]:
    """Token ids to look at: a saved run (its prompt as the model saw it + what it generated) or a text."""
    from .prompts import build_prompt

    if run is not None:
        ids, _ = build_prompt(tokenizer, run["prompt"], run["mode"], max_tokens=10**6)
        ids = ids + list(run["generated"])
    else:
        ids = tokenizer(text or "", add_special_tokens=False)["input_ids"]
    if not ids:
        raise LensRequestError("no_text")
    if len(ids) > limits.max_tokens:
        raise LensRequestError("lens_too_long", tokens=len(ids), limit=limits.max_tokens)
    return list(ids)


def quantise(p: torch.Tensor) -> list:
    return p.mul(PROB_SCALE).round().to(torch.int32).tolist()


# --- the model's parts ---------------------------------------------------------------------

def _decoder(model):
    """The decoder stack of a transformers causal LM (Llama family: model.model)."""
    inner = getattr(model, "model", None)
    if inner is None or not hasattr(inner, "layers") or not hasattr(inner, "norm") or not hasattr(model, "lm_head"):
        raise LensRequestError("lens_unsupported")
    return inner


def shape_of(model) -> tuple[int, int]:
    """(layers, heads) of a causal LM."""
    config = model.config
    return config.num_hidden_layers, config.num_attention_heads


def hidden_states(model, ids: list[int]) -> torch.Tensor:
    """The residual stream after every decoder layer, final norm applied: (layers, T, D).

    transformers' `hidden_states` has layers + 1 entries: the embeddings, then each
    layer's output, where the last one is already normed (it is `last_hidden_state`).
    """
    decoder = _decoder(model)
    device = next(model.parameters()).device
    with torch.no_grad():
        out = decoder(input_ids=torch.tensor([ids], device=device), output_hidden_states=True, use_cache=False)
        states = out.hidden_states[1:]  # layers tensors of (1, T, D)
        normed = [decoder.norm(h[0]) for h in states[:-1]] + [out.last_hidden_state[0]]
    return torch.stack(normed)  # (layers, T, D)


def _rows_logits(model, rows: torch.Tensor) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """The LM head over (N, D) normed rows, a chunk at a time: (start, logits (n, V), logsumexp (n, 1)).
    p = exp(logit - logsumexp) is the softmax, without writing a second (n, V) tensor."""
    with torch.no_grad():
        for start in range(0, rows.shape[0], ROW_CHUNK):
            logits = model.lm_head(rows[start:start + ROW_CHUNK]).float()  # (n, V)
            yield start, logits, torch.logsumexp(logits, dim=-1, keepdim=True)


def output_probs(model, ids: list[int], *, last_only: bool = False) -> torch.Tensor:
    """The model's own next-token distribution at every position, (T, V), or at the last one, (1, V)."""
    device = next(model.parameters()).device
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids], device=device), use_cache=False,
                       logits_to_keep=1 if last_only else 0).logits[0]
    return torch.softmax(logits.float(), dim=-1)


# --- the logit lens ------------------------------------------------------------------------

@dataclass
class LensGrid:
    """Top-k of the lens at every layer and position, and what the model finally says."""

    tokens: list[str]  # readable token texts, one per position
    ids: list[int]
    top_ids: torch.Tensor  # (layers, T, k) int64
    top_probs: torch.Tensor  # (layers, T, k) float32
    pick: dict | None = None  # the learner's token: {"id", "text", "probs" (layers, T), "ranks" (layers, T)}

    @property
    def layers(self) -> int:
        return self.top_ids.shape[0]

    def final_top(self) -> torch.Tensor:
        return self.top_ids[-1, :, 0]  # (T,) the model's own top-1 at each position

    def first_top(self) -> list[int]:
        """Per position, the first layer whose top-1 is the model's final top-1."""
        hits = self.top_ids[:, :, 0] == self.final_top()[None, :]  # (layers, T)
        return hits.int().argmax(dim=0).tolist()  # the last layer always hits, so argmax finds the first

    def payload(self, tokenizer, first: int = 0, last: int | None = None) -> dict:
        """Layers first..last (inclusive) for the browser: ids and quantised probabilities,
        and the text of every token id that appears."""
        last = self.layers - 1 if last is None else last
        block_ids, block_probs = self.top_ids[first:last + 1], self.top_probs[first:last + 1]
        seen = sorted(set(block_ids.flatten().tolist()) | set(self.final_top().tolist()))
        payload = {
            "layers": self.layers, "from": first, "to": last, "tokens": self.tokens, "ids": self.ids,
            "scale": PROB_SCALE, "top_ids": block_ids.tolist(), "top_probs": quantise(block_probs),
            "final_top": self.final_top().tolist(), "first_top": self.first_top(),
            "vocab": {str(i): tokenizer.decode([i], clean_up_tokenization_spaces=False) for i in seen},
        }
        if self.pick is not None:
            payload["pick"] = {"id": self.pick["id"], "text": self.pick["text"],
                               "probs": quantise(self.pick["probs"][first:last + 1]),
                               "ranks": self.pick["ranks"][first:last + 1].tolist(),
                               "first_top": self.pick_first_top()}
        return payload

    def pick_first_top(self) -> list[int | None]:
        """Per position, the first layer where the picked token is top-1 (None: never)."""
        ranks = self.pick["ranks"]  # (layers, T)
        return [int(col.nonzero()[0]) if col.any() else None for col in (ranks == 1).T]


def token_id(tokenizer, text: str) -> int:
    """The one token a learner typed (" Paris": with its leading space)."""
    if not text:
        raise LensRequestError("bad_token", token=text)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        pieces = [tokenizer.decode([i], clean_up_tokenization_spaces=False) for i in ids]
        raise LensRequestError("not_one_token", token=text, pieces=" | ".join(pieces))
    return ids[0]


def lens_grid(model, tokenizer, ids: list[int], *, top_k: int = 5, pick: int | None = None,
              states: torch.Tensor | None = None) -> LensGrid:
    """The whole logit lens for `ids`: final norm + LM head on each layer's stream.

    `pick` (a token id) adds its probability and rank at every layer and position.
    `states` reuses hidden_states() of the same ids (the worker caches them).
    """
    states = hidden_states(model, ids) if states is None else states  # (layers, T, D)
    layers, t, d = states.shape
    rows = states.reshape(layers * t, d)  # (layers * T, D), layer-major
    top_ids = torch.empty(layers * t, top_k, dtype=torch.int64)
    top_probs = torch.empty(layers * t, top_k)
    pick_probs = torch.empty(layers * t) if pick is not None else None
    pick_ranks = torch.empty(layers * t, dtype=torch.int64) if pick is not None else None
    for start, logits, lse in _rows_logits(model, rows):  # logits: (n, V), lse: (n, 1)
        n = logits.shape[0]
        best = torch.topk(logits, top_k, dim=-1)  # (n, k)
        top_ids[start:start + n] = best.indices.cpu()
        top_probs[start:start + n] = (best.values - lse).exp().cpu()
        if pick is not None:
            chosen = logits[:, pick]  # (n,)
            pick_probs[start:start + n] = (chosen - lse[:, 0]).exp().cpu()
            pick_ranks[start:start + n] = ((logits > chosen[:, None]).sum(dim=-1) + 1).cpu()  # 1 = top
    grid = LensGrid(tokens=[tokenizer.decode([i], clean_up_tokenization_spaces=False) for i in ids], ids=list(ids),
                    top_ids=top_ids.view(layers, t, top_k), top_probs=top_probs.view(layers, t, top_k))
    if pick is not None:
        grid.pick = {"id": pick, "text": tokenizer.decode([pick], clean_up_tokenization_spaces=False),
                     "probs": pick_probs.view(layers, t), "ranks": pick_ranks.view(layers, t)}
    return grid


def lens_probs(model, ids: list[int], layer: int) -> torch.Tensor:
    """One layer's full lens distribution at every position: (T, V). For tests and checks."""
    states = hidden_states(model, ids)[layer]  # (T, D)
    with torch.no_grad():
        return torch.softmax(model.lm_head(states).float(), dim=-1)


# --- ablation ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ablation:
    layer: int
    part: str  # "head", "attn" (the layer's whole attention) or "mlp"
    head: int | None = None

    def label(self) -> str:
        return f"{self.layer}.{self.head}" if self.part == "head" else f"{self.layer}.{self.part}"


ABLATION_MODES = ("zero", "mean")
_ITEM = re.compile(r"^(\d+)\.(\d+|attn|mlp)$")


def parse_ablations(spec: str | list, *, layers: int, heads: int, limits: LensLimits = LensLimits()) -> list[Ablation]:
    """ "13.8, 5.attn 7.mlp" (or a list of such items) → Ablations, checked against the model."""
    items = spec if isinstance(spec, list) else re.split(r"[\s,;]+", str(spec or ""))
    found: list[Ablation] = []
    for item in (str(i).strip().lower() for i in items):
        if not item:
            continue
        match = _ITEM.match(item)
        if match is None:
            raise LensRequestError("bad_ablation", item=item)
        layer, what = int(match[1]), match[2]
        if layer >= layers:
            raise LensRequestError("bad_layer", max=layers - 1)
        if what.isdigit() and int(what) >= heads:
            raise LensRequestError("bad_head", max=heads - 1)
        ablation = Ablation(layer, "head", int(what)) if what.isdigit() else Ablation(layer, what)
        if ablation not in found:
            found.append(ablation)
    if len(found) > limits.max_ablations:
        raise LensRequestError("too_many_ablations", limit=limits.max_ablations)
    return found


def _switch_off(x: torch.Tensor, mode: str) -> torch.Tensor:
    """Zero `x` (B, T, ...) or replace it by its mean over positions."""
    if mode == "mean":
        return x.mean(dim=1, keepdim=True).expand_as(x)
    return torch.zeros_like(x)


@contextmanager
def ablated(model, ablations: list[Ablation], mode: str = "zero"):
    """Within the block, forward passes *in this thread* run with `ablations` switched off."""
    if mode not in ABLATION_MODES:
        raise LensRequestError("bad_mode")
    decoder = _decoder(model)
    head_dim = model.config.hidden_size // model.config.num_attention_heads
    head_dim = getattr(model.config, "head_dim", None) or head_dim
    owner = threading.get_ident()
    heads_by_layer: dict[int, list[int]] = {}
    handles = []
    for a in ablations:
        if a.part == "head":
            heads_by_layer.setdefault(a.layer, []).append(a.head)

    def head_hook(heads):
        def hook(module, args):
            if threading.get_ident() != owner:
                return None
            x = args[0].clone()  # (B, T, heads * head_dim): each head's output, before o_proj mixes them
            for h in heads:
                x[..., h * head_dim:(h + 1) * head_dim] = _switch_off(x[..., h * head_dim:(h + 1) * head_dim], mode)
            return (x, *args[1:])
        return hook

    def output_hook(module, args, output):
        if threading.get_ident() != owner:
            return None
        if isinstance(output, tuple):  # attention returns (output, weights)
            return (_switch_off(output[0], mode), *output[1:])
        return _switch_off(output, mode)  # (B, T, D): the update this sublayer adds to the stream

    try:
        for layer, heads in heads_by_layer.items():
            handles.append(decoder.layers[layer].self_attn.o_proj.register_forward_pre_hook(head_hook(heads)))
        for a in ablations:
            if a.part in ("attn", "mlp"):
                module = decoder.layers[a.layer].self_attn if a.part == "attn" else decoder.layers[a.layer].mlp
                handles.append(module.register_forward_hook(output_hook))
        yield
    finally:
        for handle in handles:
            handle.remove()


@dataclass
class AblationResult:
    position: int
    before: torch.Tensor  # (V,) next-token distribution at `position`
    after: torch.Tensor  # (V,) the same with the ablations switched off
    ablations: list[Ablation]
    mode: str

    def payload(self, tokenizer, *, pick: int | None, top_k: int = 5) -> dict:
        def top(p):
            best = torch.topk(p, top_k)
            return [{"id": int(i), "text": tokenizer.decode([int(i)], clean_up_tokenization_spaces=False),
                     "p": round(float(v), 6)} for v, i in zip(best.values, best.indices, strict=True)]

        payload = {"position": self.position, "mode": self.mode, "ablated": [a.label() for a in self.ablations],
                   "before": top(self.before), "after": top(self.after)}
        if pick is not None:
            before, after = float(self.before[pick]), float(self.after[pick])
            payload["pick"] = {"id": pick, "text": tokenizer.decode([pick], clean_up_tokenization_spaces=False),
                               "before": round(before, 6), "after": round(after, 6),
                               "change": round(after - before, 6),
                               "rank_before": int((self.before > self.before[pick]).sum()) + 1,
                               "rank_after": int((self.after > self.after[pick]).sum()) + 1}
        return payload


def ablate(model, ids: list[int], ablations: list[Ablation], *, mode: str = "zero", position: int = -1,
           before: torch.Tensor | None = None) -> AblationResult:
    """The next-token distribution after position `position` with and without `ablations`.

    Causal: later positions cannot matter, so both passes read ids[:position + 1].
    `before` reuses the unablated distribution, (V,), of an earlier call (the worker caches it)."""
    if not -len(ids) <= position < len(ids):
        raise LensRequestError("bad_position", max=len(ids) - 1)
    position %= len(ids)
    prefix = ids[:position + 1]
    before = output_probs(model, prefix, last_only=True)[0] if before is None else before  # (V,)
    with ablated(model, ablations, mode):
        after = output_probs(model, prefix, last_only=True)[0]  # (V,)
    return AblationResult(position=position, before=before, after=after, ablations=ablations, mode=mode)
