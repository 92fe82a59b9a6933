"""The model worker's layer view and switch-offs: the `lens` request (playground/ml/lens.py).

A piece the worker holds (`ModelWorker.lens`), not a mixin: it needs only the worker's
model lookup and its reply. Two operations on one message type:
  op "grid"    the logit lens of a run or a text, layers `from`..`to`, and a picked token's
               rank and probability per layer;
  op "ablate"  the next-token distribution with heads or sublayers switched off, beside the original.

Each runs the model the worker serves, on a thread of its own, one at a time (a full
forward pass and, for the grid, the LM head over every layer and position). The hidden
states and the unablated distribution of recent prompts are kept, so a learner who
clicks through layers, tokens or switch-offs pays for the forward pass once.
"""

from __future__ import annotations

import asyncio

from django.conf import settings

from . import client
from .ml.kinds import CAUSAL_LM
from .ml.threads import in_fresh_thread

MAX_CONCURRENT_LENS = 1  # each request is one or two full passes on the device
MAX_PICKS_KEPT = 8  # grids kept per prompt, one per picked token (each a few hundred KB)


class LensService:
    def __init__(self, worker):
        self.worker = worker
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_LENS)
        self._cache = None

    async def handle(self, message: dict):
        from .ml.lens import LensRequestError

        name = message.get("model")
        try:
            loaded = await self.worker._model(name)
        except Exception:  # noqa: BLE001  (weights that cannot be read: said as such)
            await self.worker.reply(message, client.worker_error("model_not_available", model=name))
            return
        if loaded is None:
            await self.worker.reply(message, client.worker_error("unknown_model", model=name))
            return
        if loaded.spec.kind != CAUSAL_LM:
            await self.worker.reply(message, client.worker_error("lens_not_causal", model=name))
            return
        try:
            async with self._slots:
                payload = await in_fresh_thread(self._compute, loaded, message, name="lens")
        except LensRequestError as exc:
            await self.worker.reply(message, client.worker_error(exc.code, **exc.params))
            return
        await self.worker.reply(message, {"type": "lens.result", "model": loaded.spec.name, **payload})

    # --- on the lens thread ---------------------------------------------------------------
    def _prompt(self, loaded, message: dict) -> dict:
        """The prompt's ids, hidden states and unablated distributions, computed once per prompt."""
        from .ml import lens
        from .ml.attention import AttentionCache

        if self._cache is None:
            self._cache = AttentionCache(size=settings.LLM_LENS_CACHE)
        key = (loaded.spec.name, str(message.get("key")))
        entry = self._cache.get(key)
        if entry is None:
            limits = lens.LensLimits(max_tokens=settings.LLM_LENS_MAX_TOKENS)
            ids = lens.source_ids(loaded.tokenizer, limits=limits, run=message.get("run"), text=message.get("text"))
            entry = {"ids": ids, "states": None, "grids": {}, "before": {}}
            self._cache.put(key, entry)
        return entry

    def _compute(self, loaded, message: dict) -> dict:
        from .ml import lens

        entry = self._prompt(loaded, message)
        model, tokenizer, ids = loaded.model, loaded.tokenizer, entry["ids"]
        layers, heads = lens.shape_of(model)
        token = message.get("token") or None
        pick = lens.token_id(tokenizer, str(token)) if token else None
        op = message.get("op")
        if op == "grid":
            first, last = _layer_range(message, layers)
            if pick not in entry["grids"]:
                if len(entry["grids"]) >= MAX_PICKS_KEPT:
                    entry["grids"].clear()
                if entry["states"] is None:
                    entry["states"] = lens.hidden_states(model, ids)
                entry["grids"][pick] = lens.lens_grid(model, tokenizer, ids, pick=pick, states=entry["states"])
            return {"op": op, "heads": heads, **entry["grids"][pick].payload(tokenizer, first, last)}
        if op == "ablate":
            ablations = lens.parse_ablations(message.get("ablate") or "", layers=layers, heads=heads)
            position = _whole(message.get("position", -1), "bad_position", max=len(ids) - 1)
            if not -len(ids) <= position < len(ids):
                raise lens.LensRequestError("bad_position", max=len(ids) - 1)
            position %= len(ids)
            result = lens.ablate(model, ids, ablations, mode=str(message.get("mode") or "zero"), position=position,
                                 before=entry["before"].get(position))
            entry["before"][result.position] = result.before
            tokens = [tokenizer.decode([i], clean_up_tokenization_spaces=False) for i in ids]
            return {"op": op, "layers": layers, "heads": heads, "tokens": tokens,
                    **result.payload(tokenizer, pick=pick)}
        raise lens.LensRequestError("bad_request")


def _whole(value, code: str, **params) -> int:
    from .ml.lens import LensRequestError

    if isinstance(value, bool) or not isinstance(value, int):
        raise LensRequestError(code, **params)
    return value


def _layer_range(message: dict, layers: int) -> tuple[int, int]:
    """Layers `from`..`to` (inclusive); the whole grid by default."""
    from .ml.lens import LensRequestError

    first = _whole(message.get("from", 0), "bad_layer", max=layers - 1)
    last = _whole(message.get("to", layers - 1), "bad_layer", max=layers - 1)
    if not 0 <= first <= last < layers:
        raise LensRequestError("bad_layer", max=layers - 1)
    return first, last
