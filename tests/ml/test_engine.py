"""The batching engine with the real SmolLM2 on the CPU: requests that join a running
batch (their caches merged, left-padded to one length) and requests that finish early
(retired, the batch's shared padding trimmed) decode exactly what each would alone."""

import threading

import pytest
import torch

from playground.ml.engine import BatchEngine, EngineConfig, GenerationRequest
from playground.ml.sampling import SamplingParams

pytestmark = pytest.mark.slow  # the real model decodes some forty tokens

PROMPTS = {
    "a": "The history of the printing press begins in",
    "b": "Hi",
    "c": "Write one sentence about the sea. The ocean covers most of the planet, and its deepest trench, "
         "the Mariana Trench, reaches nearly eleven kilometres below the surface. In the dark",
    "d": "Two plus two is",
}
NEW_TOKENS = {"a": 10, "b": 2, "c": 6, "d": 4}


_reference: dict[tuple[str, int], list[int]] = {}


def alone(loaded, prompt: str, n: int) -> list[int]:
    """transformers' own greedy decoding of one prompt: the reference."""
    if (prompt, n) not in _reference:
        _reference[prompt, n] = _generate(loaded, prompt, n)
    return _reference[prompt, n]


def _generate(loaded, prompt: str, n: int) -> list[int]:
    ids = loaded.tokenizer(prompt, return_tensors="pt").input_ids
    with torch.no_grad():
        out = loaded.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, do_sample=False,
                                    eos_token_id=loaded.tokenizer.eos_token_id)
    return out[0, ids.shape[1]:].tolist()


def test_joining_and_retiring_requests_decode_as_they_would_alone(smollm2):
    tokenizer = smollm2.tokenizer
    tokens: dict[str, list[int]] = {name: [] for name in PROMPTS}
    done: dict[str, dict] = {}
    shapes: list[tuple[int, int, int, bool]] = []  # (batch, mask length, cache length, first column used)
    finished = threading.Event()

    def request(name: str) -> GenerationRequest:
        return GenerationRequest(request_id=name, prompt_ids=tokenizer(PROMPTS[name]).input_ids,
                                 params=SamplingParams(temperature=0, max_new_tokens=NEW_TOKENS[name]),
                                 stop_ids=frozenset({tokenizer.eos_token_id}))

    def emit(request_id: str, event: dict):
        if event["type"] == "token":
            tokens[request_id].append(event["id"])
            if engine._mask is not None:
                shapes.append((engine._mask.shape[0], engine._mask.shape[1], engine._cache.layers[0].keys.shape[2],
                               bool(engine._mask[:, 0].any())))
            if request_id == "a" and len(tokens["a"]) == 3:
                engine.submit(request("c"))  # longer than "a" so far: a's cache is padded to merge
            if request_id == "a" and len(tokens["a"]) == 5:
                engine.submit(request("d"))  # shorter: the newcomer's cache is padded
        else:
            done[request_id] = event
            if len(done) == len(PROMPTS):
                finished.set()

    engine = BatchEngine(smollm2.model, tokenizer, config=EngineConfig(max_batch=8), emit=emit)
    engine.submit(request("a"))
    engine.submit(request("b"))  # prefilled with "a" in one left-padded pass; retires after two tokens
    engine.start()
    try:
        assert finished.wait(300), f"only {sorted(done)} finished"
    finally:
        engine.shutdown()

    for name, prompt in PROMPTS.items():
        assert tokens[name] == alone(smollm2, prompt, NEW_TOKENS[name]), name
        assert done[name]["completion_tokens"] == len(tokens[name])
        assert done[name]["text"] == tokenizer.decode(tokens[name], skip_special_tokens=True)
    # They shared forward passes: fewer steps than decoding them one after another.
    assert engine.steps < sum(len(t) - 1 for t in tokens.values())
    assert max(batch for batch, *_ in shapes) >= 2
    # Every cache is exactly as long as its mask, and no column is padding for every row.
    assert all(mask_len == cache_len and first_used for _batch, mask_len, cache_len, first_used in shapes)
    assert engine._cache is None and engine._active == []  # all retired, nothing held


def test_a_cancelled_request_stops_and_the_others_carry_on(smollm2):
    tokenizer = smollm2.tokenizer
    tokens: dict[str, list[int]] = {"a": [], "d": []}
    done: dict[str, dict] = {}
    finished = threading.Event()

    def emit(request_id, event):
        if event["type"] == "token":
            tokens[request_id].append(event["id"])
            if request_id == "d" and len(tokens["d"]) == 2:
                engine.cancel("d")
        else:
            done[request_id] = event
            if len(done) == 2:
                finished.set()

    engine = BatchEngine(smollm2.model, tokenizer, emit=emit)
    for name in ("a", "d"):
        engine.submit(GenerationRequest(request_id=name, prompt_ids=tokenizer(PROMPTS[name]).input_ids,
                                        params=SamplingParams(temperature=0, max_new_tokens=NEW_TOKENS["a"]),
                                        stop_ids=frozenset()))
    engine.start()
    try:
        assert finished.wait(300)
    finally:
        engine.shutdown()
    assert done["d"]["finish_reason"] == "stopped" and len(tokens["d"]) <= 3  # within one step of the cancel
    assert done["a"]["finish_reason"] == "length"
    assert tokens["a"] == alone(smollm2, PROMPTS["a"], NEW_TOKENS["a"])


def test_an_idle_engine_ends_its_thread_and_the_next_request_starts_a_new_one(smollm2):
    """An idle engine keeps no thread (nor that thread's OpenMP team, see threads.py); a
    request after the pause is served as before."""
    tokenizer = smollm2.tokenizer
    finished: dict[str, threading.Event] = {"first": threading.Event(), "second": threading.Event()}
    tokens: dict[str, list[int]] = {"first": [], "second": []}

    def emit(request_id: str, event: dict):
        if event["type"] == "token":
            tokens[request_id].append(event["id"])
        else:
            finished[request_id].set()

    def request(name: str) -> GenerationRequest:
        return GenerationRequest(request_id=name, prompt_ids=tokenizer(PROMPTS["d"]).input_ids,
                                 params=SamplingParams(temperature=0, max_new_tokens=NEW_TOKENS["d"]),
                                 stop_ids=frozenset({tokenizer.eos_token_id}))

    engine = BatchEngine(smollm2.model, tokenizer, emit=emit)
    engine.start()
    try:
        engine.submit(request("first"))
        assert finished["first"].wait(120)
        first_thread = engine._thread
        for _ in range(100):  # it leaves about a second after the last request
            if engine._thread is None and not first_thread.is_alive():
                break
            threading.Event().wait(0.05)
        assert engine._thread is None and not first_thread.is_alive()
        engine.submit(request("second"))
        assert finished["second"].wait(120)
        assert engine._thread is not first_thread
    finally:
        engine.shutdown()
    expected = alone(smollm2, PROMPTS["d"], NEW_TOKENS["d"])
    assert tokens["first"] == expected and tokens["second"] == expected
