"""The model worker as a service many employees share: server-made identity, answers to
every frame, one owner per run, and a soak of everything interleaved."""

import asyncio
import json
import os
import random
import time

import pytest
from asgiref.sync import sync_to_async
from django.utils import translation

from playground.client import ask_worker
from playground.models import PlaygroundRun, RunStatus
from playground.services import run_create, runs_fail_orphaned
from tests.playground.helpers import (
    MODEL,
    PROMPT,
    close_orm_thread,  # noqa: E402, F401  (a fixture, used below)
    collect,
    connect,
    greedy_reference,
    login_cookie,
    start,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.usefixtures("close_orm_thread")]

DOCUMENTED = {"bad_request", "bad_frame", "too_large", "too_deep", "bad_parameter", "prompt_too_long",
              "unknown_model", "not_running", "too_long"}


def _malformed_frames():
    """(text, bytes) frames a careless or hostile client might send."""
    deep = "[" * 5000 + "]" * 5000
    frames = [
        ("not json", None), ("{", None), ("", None), ("   ", None), ("{'type': 'start'}", None), ("NaN", None),
        ('{"type": "start"', None), ("\x00\x01", None), ("[]", None), ("42", None), ('"start"', None),
        ("null", None), ("true", None), (deep, None), ('{"a":' * 40 + "1" + "}" * 40, None),
        (json.dumps({"type": "start", "params": [[[[[[[[[[1]]]]]]]]]]}), None),
        ("x" * 300_000, None), (json.dumps({"type": "start", "prompt": "y" * 300_000}), None),
        (None, b"\x00\x01\x02"), (None, b'{"type": "start"}'),
        (json.dumps({}), None), (json.dumps({"type": None}), None), (json.dumps({"type": 7}), None),
        (json.dumps({"type": ["start"]}), None), (json.dumps({"type": "x" * 1000}), None),
        (json.dumps({"type": "start", "request_id": {"nested": 1}}), None),
        (json.dumps({"type": "start", "request_id": "r" * 1000}), None),
        (json.dumps({"type": "start"}), None), (json.dumps({"type": "start", "model": 5}), None),
        (json.dumps({"type": "start", "model": MODEL, "prompt": 17}), None),
        (json.dumps({"type": "start", "model": MODEL, "prompt": "hi", "params": "hot"}), None),
        (json.dumps({"type": "start", "model": MODEL, "prompt": "hi", "params": {"temperature": True}}), None),
        (json.dumps({"type": "start", "model": MODEL, "prompt": "hi", "mode": {"x": 1}}), None),
        (json.dumps({"type": "start", "model": "../../etc/passwd", "prompt": "hi"}), None),
        (json.dumps({"type": "stop"}), None), (json.dumps({"type": "stop", "request_id": "a1"}), None),
        (json.dumps({"type": "tokenize"}), None), (json.dumps({"type": "tokenize", "model": MODEL, "text": 3}), None),
        (json.dumps({"type": "tokenize", "model": MODEL, "text": "z" * 20_001}), None),
    ]
    return frames


async def test_every_malformed_frame_gets_a_documented_code_and_the_socket_keeps_working(model_worker):
    cookie, user = await login_cookie()
    comm = await connect(cookie)
    frames = _malformed_frames()
    assert len(frames) >= 30
    for text, data in frames:
        await comm.send_input({"type": "websocket.receive", **({"text": text} if text is not None else {"bytes": data})})
        reply = await comm.receive_json_from(timeout=10)
        assert reply["type"] == "error" and reply["code"] in DOCUMENTED, (str(text)[:60], data, reply)
        assert reply["message"]
    assert not await PlaygroundRun.objects.filter(user=user).aexists()
    await start(comm, max_new_tokens=3)
    _, tokens, done = await collect(comm)
    assert done["type"] == "done" and len(tokens) == 3
    await comm.disconnect()


async def test_two_employees_with_the_same_request_id_never_see_or_stop_each_other(model_worker):
    prompts = [PROMPT, "Once upon a time, in a city of robots,"]
    sockets = [await connect((await login_cookie())[0]) for _ in prompts]
    for comm, prompt in zip(sockets, prompts, strict=True):
        await comm.send_json_to({"type": "start", "request_id": "a1", "model": MODEL, "mode": "completion",
                                 "prompt": prompt, "params": {"temperature": 0, "max_new_tokens": 12}})
    # A third employee's stop with the same request_id reaches nothing.
    third = await connect((await login_cookie())[0])
    await third.send_json_to({"type": "stop", "request_id": "a1"})
    assert (await third.receive_json_from(timeout=10))["code"] == "not_running"
    loaded = model_worker.models[MODEL]
    runs = set()
    for comm, prompt in zip(sockets, prompts, strict=True):
        started, tokens, done = await collect(comm)
        assert done["type"] == "done" and done["request_id"] == "a1" and started["request_id"] == "a1"
        assert all(t["request_id"] == "a1" for t in tokens)
        _, expected = greedy_reference(loaded, prompt, 12)
        assert [t["id"] for t in tokens] == expected[: len(tokens)] and len(tokens) == done["completion_tokens"]
        assert [t["index"] for t in tokens] == list(range(len(tokens)))
        runs.add(done["run"])
        await comm.receive_nothing(timeout=0.3)
    assert len(runs) == 2
    for comm in [*sockets, third]:
        await comm.disconnect()


async def test_a_request_past_its_deadline_or_no_longer_running_is_never_started(model_worker):
    from playground.client import gen_start, new_stream_id, requests_channel
    from playground.services import run_fail

    cookie, user = await login_cookie()
    comm = await connect(cookie)  # only for its user; the messages below are sent by hand
    layer = model_worker.layer
    reply_to = await layer.new_channel()
    clean = {"model": MODEL, "mode": "completion", "prompt": PROMPT,
             "params": {"temperature": 0, "top_k": 50, "top_p": 1.0, "repetition_penalty": 1.0,
                        "max_new_tokens": 4, "seed": None}}
    old = await sync_to_async(run_create)(user=user, model_name=MODEL, mode="completion", prompt=PROMPT,
                                          params=clean["params"])
    message = gen_start(reply_to=reply_to, stream=new_stream_id(), run_id=old.pk, clean=clean)
    message["deadline"] = time.time() - 1
    await layer.send(requests_channel(), message)
    reply = await asyncio.wait_for(layer.receive(reply_to), 10)
    assert reply["code"] == "expired"
    await old.arefresh_from_db()
    assert old.status == RunStatus.ERROR and old.finish_reason == "expired"
    failed = await sync_to_async(run_create)(user=user, model_name=MODEL, mode="completion", prompt=PROMPT,
                                             params=clean["params"])
    await sync_to_async(run_fail)(run_id=failed.pk, code="no_worker")
    await layer.send(requests_channel(), gen_start(reply_to=reply_to, stream=new_stream_id(), run_id=failed.pk,
                                                   clean=clean))
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(layer.receive(reply_to), 2)
    await failed.arefresh_from_db()
    assert failed.status == RunStatus.ERROR and failed.worker_id == "" and not failed.tokens
    assert model_worker.engines[MODEL].idle()
    await comm.disconnect()


async def test_only_live_runs_count_against_the_cap(model_worker, settings):
    """A run claimed by a worker that stopped beating is failed, and frees its slot."""
    from playground.models import WorkerHeartbeat

    settings.LLM_MAX_CONCURRENT_PER_USER = 1
    cookie, user = await login_cookie()
    run = await sync_to_async(run_create)(user=user, model_name=MODEL, mode="completion", prompt=PROMPT, params={"max_new_tokens": 2})
    await WorkerHeartbeat.objects.acreate(worker_id="dead", name="dead", beat_at="2020-01-01T00:00:00Z")
    await PlaygroundRun.objects.filter(pk=run.pk).aupdate(worker_id="dead", worker="dead")
    comm = await connect(cookie)
    await start(comm, max_new_tokens=2)
    _, _, done = await collect(comm)
    assert done["type"] == "done"
    await run.arefresh_from_db()
    assert run.status == RunStatus.ERROR and run.finish_reason == "worker_lost"
    await comm.disconnect()


# --- soak --------------------------------------------------------------------------------

SOAK_SECONDS = float(os.environ.get("LLM_SOAK_SECONDS", "60"))
SOAK_PROMPTS = [PROMPT, "Once upon a time, in a city of robots,", "The capital of France is", "def fib(n):"]


class Tally:
    def __init__(self):
        self.starts = self.finals = self.disconnects = self.greedy_checked = self.tokenized = self.attention = 0
        self.codes = {}


async def _one_start(comm, rng, references, tally, request_id, action):
    prompt = rng.choice(SOAK_PROMPTS)
    n = rng.randint(3, 12)
    greedy = action == "greedy"
    params = {"temperature": 0, "max_new_tokens": n} if greedy else \
        {"temperature": 0.9, "top_k": 40, "seed": rng.randint(0, 1000), "max_new_tokens": 64}
    await comm.send_json_to({"type": "start", "request_id": request_id, "model": MODEL, "mode": "completion",
                             "prompt": prompt, "params": params})
    tally.starts += 1
    tokens, started = [], None
    stop_after = rng.randint(1, 4) if action in ("stop", "disconnect") else None
    while True:
        event = await comm.receive_json_from(timeout=90)
        assert event.get("request_id") == request_id, event
        if event["type"] == "started":
            started = event
        elif event["type"] == "token":
            assert started is not None and event["index"] == len(tokens), event
            tokens.append(event["id"])
            if stop_after is not None and len(tokens) == stop_after:
                if action == "disconnect":
                    await comm.disconnect()
                    tally.disconnects += 1
                    return None
                await comm.send_json_to({"type": "stop"})
        else:
            tally.finals += 1
            break
    if event["type"] == "error":
        tally.codes[event["code"]] = tally.codes.get(event["code"], 0) + 1
        # A tab closed a moment ago may still hold its slot until its stop lands: wait, as a person would.
        assert event["code"] in ("too_many_generations", "busy"), event
        await asyncio.sleep(0.5)
        return comm
    assert event["type"] == "done" and event["completion_tokens"] == len(tokens), event
    if greedy:
        assert tokens == references[prompt][: len(tokens)], (prompt, tokens)
        tally.greedy_checked += 1
    await comm.receive_nothing(timeout=0.05)  # exactly one final event
    return comm


async def _socket_life(cookie, rng, references, tally, request_id, deadline):
    comm = await connect(cookie)
    while time.monotonic() < deadline:
        action = rng.choice(os.environ.get("SOAK_ACTIONS", "greedy greedy stop disconnect tokenize attention").split())
        if action == "tokenize":
            text = rng.choice(SOAK_PROMPTS)
            await comm.send_json_to({"type": "tokenize", "request_id": request_id, "model": MODEL, "text": text})
            reply = await comm.receive_json_from(timeout=60)
            assert reply["type"] == "tokens" and reply["request_id"] == request_id, reply
            assert "".join(t["text"] for t in reply["tokens"]) == text
            tally.tokenized += 1
        elif action == "attention":
            text = rng.choice(SOAK_PROMPTS)
            reply = await ask_worker({"type": "attention", "view": "layer", "layer": rng.randint(0, 29),
                                      "model": MODEL, "key": f"text:{text}", "text": text}, timeout=90)
            assert reply["type"] == "attention.result", reply
            tally.attention += 1
        else:
            comm = await _one_start(comm, rng, references, tally, request_id, action)
            if comm is None:
                comm = await connect(cookie)
    await comm.disconnect()


def _fine_tune_during_soak():
    """A colleague's fine-tune on the same host, through the real Celery worker and its
    training child, long enough to last the soak."""
    from tests.factories import make_user
    from training import services

    user = make_user()
    services.quota_set(user=user, max_concurrent=1, gpu_seconds_per_week=None)
    return services.job_submit(user=user, kind="causal_lm", preset="cpu-quick", builtin_dataset="company-faq",
                               overrides={"steps": 1000, "batch_size": 2, "seq_len": 32, "eval_fraction": 0.1})


def _fine_tune_after_soak(job_id):
    """It ran all along (low priority is not starvation to death) and still stops on request."""
    from tests.training.conftest import wait_final
    from training import services
    from training.models import FineTuneJob, JobStatus

    job = FineTuneJob.objects.get(pk=job_id)
    assert job.status == JobStatus.RUNNING and job.child_pid, (job.status, job.failure_reason)
    services.job_cancel(job_id=job_id)
    assert wait_final(job_id, timeout=60).status == JobStatus.CANCELLED
    return job.steps_done


async def test_soak_many_employees_interleaved(model_worker, celery_worker, registered_models):
    fine_tune = await sync_to_async(_fine_tune_during_soak)()
    loaded = model_worker.models[MODEL]
    references = {}
    for prompt in SOAK_PROMPTS:
        references[prompt] = (await asyncio.to_thread(greedy_reference, loaded, prompt, 12))[1]
    users = [await login_cookie() for _ in range(8)]
    tally = Tally()
    deadline = time.monotonic() + SOAK_SECONDS
    lives = []
    for i in range(16):
        cookie, _ = users[i % 8]
        request_id = "a1" if i % 4 == 0 else f"r{i}"  # a quarter share one request_id
        rng = random.Random(i)  # noqa: S311  (a reproducible schedule, not a secret)
        lives.append(_socket_life(cookie, rng, references, tally, request_id, deadline))
    await asyncio.wait_for(asyncio.gather(*lives), SOAK_SECONDS + 240)
    assert tally.starts == tally.finals + tally.disconnects, vars(tally)  # one done or error per start
    if "SOAK_ACTIONS" not in os.environ:
        assert tally.greedy_checked >= 16 and tally.tokenized and tally.attention, vars(tally)
    # Afterwards nothing is left running (stops from closed sockets land within a step)...
    for _ in range(100):
        if not await PlaygroundRun.objects.filter(status=RunStatus.RUNNING).aexists():
            break
        await asyncio.sleep(0.1)
    assert not await PlaygroundRun.objects.filter(status=RunStatus.RUNNING).aexists()
    assert await sync_to_async(runs_fail_orphaned)() == 0
    assert model_worker.engines[MODEL].idle()
    # ...and nobody is locked out.
    for cookie, _ in users:
        comm = await connect(cookie)
        await start(comm, max_new_tokens=2)
        _, _, done = await collect(comm)
        assert done["type"] == "done", done
        await comm.disconnect()
    steps = await sync_to_async(_fine_tune_after_soak)(fine_tune.pk)
    print("soak:", vars(tally), f"fine-tune steps meanwhile: {steps}")


def test_every_worker_error_code_has_words_in_both_languages():
    from playground.client import _texts, error_text

    # Every parameter any code's words use (the endpoint codes add status, retry_after, where;
    # the layer view's add token, pieces and item).
    params = {"tokens": 300, "limit": 256, "model": "m", "view": "model", "max": 29, "status": 401,
              "retry_after": 5, "where": "LLM_ENDPOINT_KEY", "token": " Paris", "pieces": "' Par', 'is'",
              "item": "31.2"}
    with translation.override("en"):
        codes = list(_texts())
    for code in codes:
        english, chinese = error_text(code, params, "en"), error_text(code, params, "zh-hans")
        assert "%(" not in english and "%(" not in chinese, code
        assert english != chinese and not chinese.isascii(), (code, chinese)


async def test_attention_passes_do_not_hold_up_a_generation(model_worker):
    """The dispatcher runs requests concurrently: a start is served while attention
    passes (uncached, long texts) are still computing."""
    texts = [" ".join(f"word{i}{j}" for j in range(60)) for i in range(3)]
    finished = []

    async def attention(text):
        reply = await ask_worker({"type": "attention", "view": "layer", "layer": 0, "model": MODEL,
                                  "key": f"text:{text}", "text": text}, timeout=120)
        assert reply["type"] == "attention.result", reply
        finished.append(time.monotonic())

    passes = [asyncio.create_task(attention(text)) for text in texts]
    await asyncio.sleep(0.05)
    comm = await connect((await login_cookie())[0])
    await start(comm, max_new_tokens=2)
    started = await comm.receive_json_from(timeout=60)
    started_at = time.monotonic()
    assert started["type"] == "started", started
    await asyncio.gather(*passes)
    assert started_at < max(finished), "the start waited for every attention pass"
    _, _, done = await collect(comm)
    assert done["type"] == "done"
    await comm.disconnect()
