"""A batching generation engine for one causal LM: many requests share each forward pass.

The engine runs in its own thread, which ends when the engine is idle and starts again
with the next request (see threads.py for why). Requests arrive in an inbox; at the top of every
step the engine drops cancelled ones and admits new ones (prefilling all that fit
in one left-padded pass, which yields their first tokens), then advances every active sequence by one token in
a single batched forward pass. So a request that arrives while others generate joins
them at the next step, and a stop takes effect before the next step.

Sequences in the batch have different lengths. Their key/value caches are kept
left-padded to a common length with an attention mask, as HF generate() does for a
padded batch; the cache is rebuilt only when membership changes.

Events go out through `emit(request_id, event)`; see `TokenEvent` and `DoneEvent`.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from . import limits
from .sampling import BatchChoice, SamplingParams, choose_batch

TOP_ALTERNATIVES = 5
CPU_BATCH = 8  # on a CPU a bigger batch only makes every stream slower
MIN_GPU_BATCH, MAX_GPU_BATCH = 64, 256


def batch_size_for(model, *, max_tokens: int, memory_fraction: float = 0.5) -> int:
    """How many sequences to decode together: 8 on a CPU; on a GPU as many as the free
    memory holds key/value caches of `max_tokens` for (at least 64, at most 256)."""
    device = next(model.parameters()).device
    if device.type != "cuda":
        return CPU_BATCH
    config = model.config
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    dtype_bytes = next(model.parameters()).element_size()
    per_sequence = 2 * config.num_hidden_layers * heads * head_dim * dtype_bytes * max_tokens  # keys + values
    free, _ = torch.cuda.mem_get_info(device)
    fits = int(free * memory_fraction // max(per_sequence, 1))
    return max(MIN_GPU_BATCH, min(MAX_GPU_BATCH, fits))


@dataclass
class EngineConfig:
    max_batch: int = CPU_BATCH  # sequences decoded together; more wait in the queue (see batch_size_for)
    max_waiting: int = 16  # beyond this, new requests are refused as "busy"
    max_prompt_tokens: int = limits.MAX_PROMPT_TOKENS  # longer prompts are refused before any compute
    max_new_tokens: int = limits.MAX_NEW_TOKENS  # hard cap on any request's max_new_tokens


@dataclass
class GenerationRequest:
    request_id: str
    prompt_ids: list[int]
    params: SamplingParams
    stop_ids: frozenset[int]
    submitted_at: float = field(default_factory=time.perf_counter)


class EngineBusy(Exception):
    code = "busy"


@dataclass
class _Sequence:
    """A request being decoded: its ids so far and its timing."""

    request: GenerationRequest
    generator: torch.Generator | None
    ids: list[int]  # prompt + generated
    generated: list[int] = field(default_factory=list)
    # Incremental decoding: text is decoded from a short window of recent tokens, not the
    # whole output again. generated[prefix:read] was decoded last time; read is where new
    # text starts.
    prefix_offset: int = 0
    read_offset: int = 0
    first_token_at: float | None = None
    prefill_seconds: float = 0.0
    compute_seconds: float = 0.0  # this sequence's share of forward-pass time
    finish_reason: str | None = None


class BatchEngine:
    def __init__(self, model, tokenizer, *, config: EngineConfig | None = None,
                 emit: Callable[[str, dict], Any] = lambda rid, event: None):
        self.model = model
        self.tokenizer = tokenizer
        self.config = config or EngineConfig()
        self.emit = emit
        self.device = next(model.parameters()).device
        self._inbox: queue.Queue = queue.Queue()
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()
        self._waiting: list[GenerationRequest] = []
        self._active: list[_Sequence] = []
        self._cache = None  # DynamicCache for self._active, left-padded
        self._mask: torch.Tensor | None = None  # (B, L) 1 = real position
        self._seen: torch.Tensor | None = None  # (B, V) bool: tokens in each row's text (repetition penalty)
        self._pieces: dict[int, str] = {}  # token id → its text alone (for the top-5)
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.steps = 0

    # --- public, thread-safe -------------------------------------------------------
    def start(self):
        with self._lock:
            self._ensure_thread()

    def shutdown(self):
        self._stopping = True
        self._inbox.put(None)
        thread = self._thread
        if thread:
            thread.join(10)

    def submit(self, request: GenerationRequest):
        """Queue a request; raises EngineBusy when the queue is full."""
        with self._lock:
            if len(self._waiting) + self._inbox.qsize() >= self.config.max_waiting and len(self._active) >= self.config.max_batch:
                raise EngineBusy("The model is busy; try again in a moment.")
            self._inbox.put(request)
            self._ensure_thread()

    def _ensure_thread(self):
        """Start the engine's thread unless it runs (the caller holds the lock)."""
        if self._thread is None and not self._stopping:
            self._thread = threading.Thread(target=self._run, name="batch-engine", daemon=True)
            self._thread.start()

    def cancel(self, request_id: str):
        """Stop a request before the next step (or drop it from the queue)."""
        with self._lock:
            self._cancelled.add(request_id)
        self._inbox.put(("wake", request_id))

    def idle(self) -> bool:
        load = self.load()
        return load["active"] == 0 and load["waiting"] == 0

    def load(self) -> dict:
        with self._lock:
            return {"active": len(self._active), "waiting": len(self._waiting) + self._inbox.qsize(),
                    "max_batch": self.config.max_batch}

    # --- the loop ----------------------------------------------------------------------
    def _run(self):
        torch.set_grad_enabled(False)
        while not self._stopping:
            self._drain_inbox(block=not self._active and not self._waiting)
            self._drop_cancelled()
            self._admit()
            if self._active:
                self._step()
            elif self._leave_when_idle():
                return

    def _leave_when_idle(self) -> bool:
        """End the thread once nothing is left to do and nothing arrived for a second; the
        next submit starts a new one. An idle engine then holds no OpenMP team, which
        would slow every other engine in the process (threads.py)."""
        with self._lock:
            if self._active or self._waiting or not self._inbox.empty():
                return False
            self._thread = None
            return True

    def _drain_inbox(self, block: bool):
        try:
            item = self._inbox.get(timeout=1.0) if block else self._inbox.get_nowait()
        except queue.Empty:
            return
        while True:
            if isinstance(item, GenerationRequest):
                with self._lock:
                    self._waiting.append(item)
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return

    def _drop_cancelled(self):
        with self._lock:
            cancelled, self._cancelled = self._cancelled, set()
            kept = []
            for request in self._waiting:
                if request.request_id in cancelled:
                    self.emit(request.request_id, self._done_event_for_unstarted(request))
                else:
                    kept.append(request)
            self._waiting = kept
        for seq in self._active:
            if seq.request.request_id in cancelled:
                seq.finish_reason = "stopped"
        self._retire_finished()

    def _admit(self):
        """Prefill as many waiting requests as the batch has room for, in one pass."""
        with self._lock:
            room = self.config.max_batch - len(self._active)
            requests, self._waiting = self._waiting[:room], self._waiting[room:]
        if requests:
            self._prefill(requests)

    # --- prefill: the new sequences together, left-padded ---------------------------
    def _prefill(self, requests: list[GenerationRequest]):
        seqs = []
        for request in requests:
            generator = None
            if request.params.seed is not None:
                generator = torch.Generator(device="cpu").manual_seed(request.params.seed)
            seqs.append(_Sequence(request=request, generator=generator, ids=list(request.prompt_ids)))
        started = time.perf_counter()
        length = max(len(r.prompt_ids) for r in requests)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        input_ids = torch.tensor([[pad] * (length - len(r.prompt_ids)) + list(r.prompt_ids) for r in requests],
                                 device=self.device)  # (k, P)
        mask = torch.tensor([[0] * (length - len(r.prompt_ids)) + [1] * len(r.prompt_ids) for r in requests],
                            dtype=torch.long, device=self.device)  # (k, P)
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)  # (k, P) padding not counted
        out = self.model(input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=True)
        cache = out.cache
        if not bool(mask.all()):
            # Padded positions must hold zeros, not whatever the pad token computed.
            keep = mask.bool()[:, None, :, None]  # (k, 1, P, 1)
            for layer in cache.layers:
                layer.keys = layer.keys.masked_fill(~keep, 0.0)
                layer.values = layer.values.masked_fill(~keep, 0.0)
        logits = out.logits[:, -1].float()  # (k, V)
        seen = torch.zeros(len(requests), logits.shape[-1], dtype=torch.bool, device=self.device)
        seen.scatter_(1, input_ids, mask.bool())  # the prompt's own tokens (padding excluded)
        choice = choose_batch(logits, [r.params for r in requests], [q.generator for q in seqs], seen,
                              TOP_ALTERNATIVES)
        elapsed = time.perf_counter() - started
        self._merge(seqs, cache, mask, seen)
        self._seen[torch.arange(len(self._active) - len(seqs), len(self._active), device=self.device),
                   torch.tensor(choice.tokens, device=self.device)] = True
        for row, seq in enumerate(seqs):
            seq.prefill_seconds = elapsed
            seq.compute_seconds += elapsed / len(seqs)
            self._emit_token(seq, choice, row)
        self._retire_finished()

    def _merge(self, seqs: list[_Sequence], cache, mask: torch.Tensor, seen: torch.Tensor):
        """Add prefilled sequences to the batch, left-padding caches to one length."""
        from transformers import DynamicCache

        if not self._active:
            self._active, self._cache, self._mask, self._seen = list(seqs), cache, mask, seen
            return
        old_len, new_len = self._mask.shape[1], mask.shape[1]
        length = max(old_len, new_len)
        layers = []
        for old_layer, new_layer in zip(self._cache.layers, cache.layers, strict=True):
            pair = []
            for old, new in ((old_layer.keys, new_layer.keys), (old_layer.values, new_layer.values)):
                old = _left_pad(old, length - old_len)  # (B, kv_heads, L, d)
                new = _left_pad(new, length - new_len)  # (k, kv_heads, L, d)
                pair.append(torch.cat([old, new], dim=0))
            layers.append(tuple(pair))
        self._cache = DynamicCache(ddp_cache_data=layers, config=self.model.config)
        old_mask = torch.nn.functional.pad(self._mask, (length - old_len, 0))
        new_mask = torch.nn.functional.pad(mask, (length - new_len, 0))
        self._mask = torch.cat([old_mask, new_mask], dim=0)  # (B+k, L)
        self._seen = torch.cat([self._seen, seen], dim=0)  # (B+k, V)
        self._active.extend(seqs)

    # --- decode: every active sequence advances one token ---------------------------
    def _step(self):
        started = time.perf_counter()
        batch = len(self._active)
        last = torch.tensor([[s.ids[-1]] for s in self._active], device=self.device)  # (B, 1)
        # The new token's position is the row's real length so far (padding not counted).
        positions = self._mask.sum(dim=1, keepdim=True)  # (B, 1)
        self._mask = torch.cat([self._mask, torch.ones(batch, 1, dtype=torch.long, device=self.device)], dim=1)
        out = self.model(input_ids=last, attention_mask=self._mask, position_ids=positions,
                         cache=self._cache, use_cache=True)
        self._cache = out.cache
        logits = out.logits[:, -1].float()  # (B, V)
        # The whole batch is sampled at once, with one copy of the results to the CPU.
        choice = choose_batch(logits, [s.request.params for s in self._active],
                              [s.generator for s in self._active], self._seen, TOP_ALTERNATIVES)
        share = (time.perf_counter() - started) / batch
        self.steps += 1
        for row, seq in enumerate(self._active):
            seq.compute_seconds += share
            self._emit_token(seq, choice, row)
        self._seen[torch.arange(batch, device=self.device),
                   torch.tensor(choice.tokens, device=self.device)] = True
        self._retire_finished()

    def _emit_token(self, seq: _Sequence, choice: BatchChoice, row: int):
        """Emit row `row` of a step's choice as one sequence's next token."""
        token = choice.tokens[row]
        now = time.perf_counter()
        if seq.first_token_at is None:
            seq.first_token_at = now
        seq.ids.append(token)
        seq.generated.append(token)
        event = {
            "type": "token",
            "index": len(seq.generated) - 1,
            "id": token,
            "text": self._new_text(seq),
            "p": choice.p[row],
            "p_sample": choice.p_sample[row],
            "top": [{"id": i, "text": self._piece(i), "p": p, "q": q}
                    for i, p, q in zip(choice.top_ids[row], choice.top_p[row], choice.top_q[row], strict=True)],
        }
        self.emit(seq.request.request_id, event)
        params = seq.request.params
        if token in seq.request.stop_ids:
            seq.finish_reason = "stop_token"
        elif len(seq.generated) >= min(params.max_new_tokens, self.config.max_new_tokens):
            seq.finish_reason = "length"

    def _piece(self, token_id: int) -> str:
        text = self._pieces.get(token_id)
        if text is None:
            text = self._pieces[token_id] = self.tokenizer.decode([token_id])
        return text

    def _new_text(self, seq: _Sequence) -> str:
        """The text this token adds, decoded from a window of recent tokens. Bytes of a
        multi-byte character that is still incomplete are held back (decode gives
        U+FFFD) until the character is whole."""
        window = seq.generated[seq.prefix_offset:]
        before = self.tokenizer.decode(window[: seq.read_offset - seq.prefix_offset], skip_special_tokens=True)
        text = self.tokenizer.decode(window, skip_special_tokens=True)
        if len(text) <= len(before) or text.endswith("\ufffd"):
            return ""
        seq.prefix_offset, seq.read_offset = seq.read_offset, len(seq.generated)
        return text[len(before):]

    def _retire_finished(self):
        keep = [i for i, s in enumerate(self._active) if s.finish_reason is None]
        if len(keep) == len(self._active):
            return
        for seq in self._active:
            if seq.finish_reason is not None:
                self.emit(seq.request.request_id, self._done_event(seq))
        if not keep:
            self._active, self._cache, self._mask, self._seen = [], None, None, None
            return
        index = torch.tensor(keep, device=self.device)
        self._active = [self._active[i] for i in keep]
        self._mask = self._mask[index]
        self._seen = self._seen[index]
        # Trim columns that are padding for every remaining row.
        pad = int((self._mask.cumsum(dim=1) == 0).sum(dim=1).min())
        self._mask = self._mask[:, pad:]
        for layer in self._cache.layers:
            layer.keys = layer.keys[index, :, pad:]
            layer.values = layer.values[index, :, pad:]

    def _done_event(self, seq: _Sequence) -> dict:
        end = time.perf_counter()
        decode_tokens = max(len(seq.generated) - 1, 0)
        decode_seconds = end - seq.first_token_at if seq.first_token_at else 0.0
        return {
            "type": "done",
            "finish_reason": seq.finish_reason,
            "prompt_tokens": len(seq.request.prompt_ids),
            "completion_tokens": len(seq.generated),
            "text": self.tokenizer.decode(seq.generated, skip_special_tokens=True),
            "queue_seconds": round(end - seq.request.submitted_at - decode_seconds - seq.prefill_seconds, 4),
            "ttft_seconds": round((seq.first_token_at or end) - seq.request.submitted_at, 4),
            "prefill_seconds": round(seq.prefill_seconds, 4),
            "tokens_per_second": round(decode_tokens / decode_seconds, 2) if decode_seconds > 0 else None,
            "compute_seconds": round(seq.compute_seconds, 4),
        }

    def _done_event_for_unstarted(self, request: GenerationRequest) -> dict:
        return {"type": "done", "finish_reason": "stopped", "prompt_tokens": len(request.prompt_ids),
                "completion_tokens": 0, "text": "", "queue_seconds": round(time.perf_counter() - request.submitted_at, 4),
                "ttft_seconds": None, "prefill_seconds": 0.0, "tokens_per_second": None, "compute_seconds": 0.0}


def _left_pad(t: torch.Tensor, n: int) -> torch.Tensor:
    """Pad (B, heads, L, d) with n zero positions on the left of L."""
    if n == 0:
        return t
    return torch.nn.functional.pad(t, (0, 0, n, 0))
