"""Streamed generation over the playground socket, against the real default model."""

import asyncio

import pytest
import torch

from playground.ml.prompts import build_prompt
from playground.models import PlaygroundRun, RunStatus
from tests.playground.helpers import MODEL, PROMPT, collect, connect, greedy_reference, login_cookie, start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


async def test_greedy_stream_equals_model_generate(model_worker):
    cookie, _ = await login_cookie()
    comm = await connect(cookie)
    await start(comm, max_new_tokens=16)
    started, tokens, done = await collect(comm)
    loaded = model_worker.models[MODEL]
    prompt_ids, expected = greedy_reference(loaded, PROMPT, 16)
    assert [t["id"] for t in started["prompt_tokens"]] == prompt_ids
    got = [t["id"] for t in tokens]
    assert got == expected[: len(got)] and len(got) >= 1
    assert done["type"] == "done" and done["completion_tokens"] == len(got)
    assert done["text"] == loaded.tokenizer.decode(got, skip_special_tokens=True)
    assert done["finish_label"] == {"length": "reached max new tokens",
                                    "stop_token": "the model ended its answer"}[done["finish_reason"]]
    await comm.disconnect()


async def test_streamed_probabilities_match_a_separate_softmax(model_worker):
    cookie, _ = await login_cookie()
    comm = await connect(cookie)
    await start(comm, max_new_tokens=6, temperature=0.8, top_k=20, seed=7)
    _, tokens, _ = await collect(comm)
    loaded = model_worker.models[MODEL]
    ids, _ = build_prompt(loaded.tokenizer, PROMPT, "completion", max_tokens=1024)
    generated = [t["id"] for t in tokens]
    with torch.no_grad():
        logits = loaded.model(torch.tensor([ids + generated])).logits[0].float()  # (T, V)
    for i, token in enumerate(tokens):
        probs = torch.softmax(logits[len(ids) - 1 + i], dim=-1)  # distribution that chose token i
        assert token["p"] == pytest.approx(float(probs[token["id"]]), abs=2e-4)
        top = torch.topk(probs, 5)
        assert [a["id"] for a in token["top"]] == top.indices.tolist()
        assert [a["p"] for a in token["top"]] == pytest.approx(top.values.tolist(), abs=2e-4)
        assert 0 < token["p_sample"] <= 1
    await comm.disconnect()


async def test_stop_takes_effect_within_one_step(model_worker):
    cookie, _ = await login_cookie()
    comm = await connect(cookie)
    await start(comm, max_new_tokens=200, temperature=0.7, seed=1, prompt="Once upon a time, in a city of robots,")
    seen = 0
    while seen < 3:
        event = await comm.receive_json_from(timeout=60)
        assert event["type"] in ("started", "token"), event
        seen += event["type"] == "token"
    steps_at_stop = model_worker.engines[MODEL].steps
    await comm.send_json_to({"type": "stop"})
    _, more, done = await collect(comm)
    assert done["finish_reason"] == "stopped"
    # The engine checks for stops before every step: at most one more step ran.
    assert model_worker.engines[MODEL].steps - steps_at_stop <= 1
    assert done["completion_tokens"] <= seen + len(more) and len(more) <= 2
    await comm.disconnect()


async def test_disconnect_frees_the_slot(model_worker, settings):
    settings.LLM_MAX_CONCURRENT_PER_USER = 1
    cookie, user = await login_cookie()
    first = await connect(cookie)
    await start(first, max_new_tokens=200, temperature=0.7, seed=3)
    event = await first.receive_json_from(timeout=60)
    assert event["type"] == "started"
    # While it runs, a second tab of the same employee is refused by the cap...
    second = await connect(cookie)
    await start(second)
    refused = await second.receive_json_from(timeout=10)
    assert refused["type"] == "error" and refused["code"] == "too_many_generations"
    # ...closing the first tab stops its generation and saves it as stopped...
    await first.disconnect()
    engine = model_worker.engines[MODEL]
    for _ in range(100):
        run = await PlaygroundRun.objects.aget(user=user)
        if run.status != RunStatus.RUNNING and engine.load()["active"] == 0:
            break
        await asyncio.sleep(0.1)
    assert run.status == RunStatus.STOPPED and run.finish_reason == "stopped"
    assert engine.load()["active"] == 0
    # ...and the slot is free again.
    await start(second)
    _, tokens, done = await collect(second)
    assert done["type"] == "done" and tokens
    await second.disconnect()


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"prompt": "word " * 50}, "prompt_too_long"),
        ({"params": {"temperature": -1}}, "bad_parameter"),
        ({"params": {"top_p": "lots"}}, "bad_parameter"),
        ({"params": {"max_new_tokens": 100000}}, "bad_parameter"),
        ({"params": {"colour": "blue"}}, "bad_parameter"),
        ({"model": "gpt-17"}, "unknown_model"),
        ({"model": "minilm-l6-v2"}, "unknown_model"),
        ({"mode": "poetry"}, "bad_parameter"),
        ({"prompt": "   "}, "bad_parameter"),
    ],
)
async def test_bad_requests_get_error_events_and_the_worker_keeps_serving(model_worker, settings, message, code):
    settings.LLM_MAX_PROMPT_TOKENS = 32
    cookie, user = await login_cookie()
    comm = await connect(cookie)
    request = {"type": "start", "model": MODEL, "mode": "completion", "prompt": PROMPT,
               "params": {"temperature": 0, "max_new_tokens": 4}, **message}
    await comm.send_json_to(request)
    error = await comm.receive_json_from(timeout=30)
    assert error["type"] == "error" and error["code"] == code, error
    assert error["message"]
    # Nothing is left running for this employee.
    assert not await PlaygroundRun.objects.filter(user=user, status=RunStatus.RUNNING).aexists()
    await start(comm, max_new_tokens=3)
    _, tokens, done = await collect(comm)
    assert done["type"] == "done" and len(tokens) == 3
    await comm.disconnect()


async def test_full_queue_answers_busy(model_worker):
    engine = model_worker.engines[MODEL]
    engine.config.max_batch, engine.config.max_waiting = 1, 0
    try:
        a, _ = await login_cookie()
        b, _ = await login_cookie()
        first, second = await connect(a), await connect(b)
        await start(first, max_new_tokens=100, temperature=0.7, seed=5)
        assert (await first.receive_json_from(timeout=30))["type"] == "started"
        await first.receive_json_from(timeout=30)  # a token: the batch is now full
        await start(second)
        busy = await second.receive_json_from(timeout=30)
        assert busy["type"] == "error" and busy["code"] == "busy"
        await first.send_json_to({"type": "stop"})
        await collect(first)
        await first.disconnect()
        await second.disconnect()
    finally:
        engine.config.max_batch, engine.config.max_waiting = 8, 16


async def test_run_is_saved_with_its_tokens(model_worker):
    cookie, user = await login_cookie()
    comm = await connect(cookie)
    await start(comm, max_new_tokens=5)
    started, tokens, done = await collect(comm)
    run = await PlaygroundRun.objects.aget(public_id=done["run"])
    assert run.user_id == user.pk and run.status == RunStatus.DONE
    assert run.output == done["text"] and run.completion_tokens == len(tokens) == 5
    assert [t["id"] for t in run.tokens] == [t["id"] for t in tokens]
    assert run.ttft_ms > 0 and run.compute_seconds > 0 and run.device == "cpu"
    assert run.prompt == PROMPT and run.params["max_new_tokens"] == 5
    await comm.disconnect()


async def test_stopping_one_client_leaves_the_others_in_the_batch_untouched(model_worker):
    a_cookie, _ = await login_cookie()
    b_cookie, _ = await login_cookie()
    a, b = await connect(a_cookie), await connect(b_cookie)
    await start(a, max_new_tokens=100, temperature=0.9, seed=11, prompt="Once upon a time, in a city of robots,")
    await start(b, max_new_tokens=16)  # greedy: its output is known in advance
    seen_a = 0
    while seen_a < 2:
        event = await a.receive_json_from(timeout=60)
        seen_a += event["type"] == "token"
    await a.send_json_to({"type": "stop"})
    _, _, done_a = await collect(a)
    _, tokens_b, done_b = await collect(b)
    assert done_a["finish_reason"] == "stopped"
    _, expected = greedy_reference(model_worker.models[MODEL], PROMPT, 16)
    got = [t["id"] for t in tokens_b]
    assert got == expected[: len(got)] and done_b["finish_reason"] in ("length", "stop_token")
    assert model_worker.engines[MODEL].load()["active"] == 0
    await a.disconnect()
    await b.disconnect()


async def test_token_events_are_coalesced_when_the_client_falls_behind(model_worker):
    """While one channel-layer send is in flight, later tokens pile up and travel together."""
    sends = []
    original = model_worker._send_quietly

    async def slow_send(channel, message):
        if message["type"] == "gen.tokens":
            sends.append(len(message["tokens"]))
            await asyncio.sleep(0.4)  # a consumer that can't keep up
        await original(channel, message)

    model_worker._send_quietly = slow_send
    try:
        cookie, _ = await login_cookie()
        comm = await connect(cookie)
        await start(comm, max_new_tokens=20, prompt="Once upon a time, in a city of robots,")
        _, tokens, done = await collect(comm)
        _, expected = greedy_reference(model_worker.models[MODEL], "Once upon a time, in a city of robots,", 20)
        assert [t["id"] for t in tokens] == expected[: len(tokens)]  # nothing lost, order kept
        assert [t["index"] for t in tokens] == list(range(len(tokens)))
        assert sum(sends) == len(tokens) == done["completion_tokens"]
        assert len(sends) < len(tokens) and max(sends) > 1
        await comm.disconnect()
    finally:
        model_worker._send_quietly = original


@pytest.mark.parametrize(
    ("message", "code", "chinese"),
    [
        ({"prompt": "   "}, "bad_parameter", "提示词为空。"),  # said by the consumer
        ({"prompt": "word " * 50}, "prompt_too_long", "提示词有 51 个词元，上限为 32。请缩短后重试。"),  # by the worker
    ],
)
async def test_errors_come_in_the_language_the_page_chose(model_worker, settings, message, code, chinese):
    settings.LLM_MAX_PROMPT_TOKENS = 32
    cookie, _ = await login_cookie()
    comm = await connect(cookie + b"; django_language=zh-hans")
    await comm.send_json_to({"type": "start", "model": MODEL, "mode": "completion", "prompt": PROMPT,
                             "params": {"temperature": 0, "max_new_tokens": 4}, **message})
    error = await comm.receive_json_from(timeout=30)
    assert (error["type"], error["code"], error["message"]) == ("error", code, chinese)
    await comm.disconnect()


async def test_a_running_stream_is_saved_as_it_goes(model_worker):
    """A process killed mid-stream must not lose what had streamed: while the run is still
    RUNNING, its row already holds the tokens up to the last checkpoint."""
    from asgiref.sync import sync_to_async

    from playground import worker_generation as worker

    cookie, user = await login_cookie()
    comm = await connect(cookie)
    await start(comm, max_new_tokens=200, temperature=0.7, seed=3, prompt="Once upon a time, in a city of robots,")
    streamed = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    row = None
    while loop.time() < deadline:
        event = await comm.receive_json_from(timeout=60)
        assert event["type"] in ("started", "token"), event
        streamed += event["type"] == "token"
        row = await sync_to_async(PlaygroundRun.objects.filter(user=user).values("status", "completion_tokens",
                                                                                   "output").get)()
        if row["completion_tokens"] >= 3:
            break
    assert row["status"] == RunStatus.RUNNING and 3 <= row["completion_tokens"] <= streamed, row
    assert row["output"], "the checkpoint keeps the text too"
    assert worker.CHECKPOINT_SECONDS <= 2
    await comm.send_json_to({"type": "stop"})
    await comm.disconnect()
