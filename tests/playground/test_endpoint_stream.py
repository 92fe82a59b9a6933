"""Models served by an OpenAI-compatible endpoint, streamed through our socket, against
llama.cpp's real server (tests/llama_server.py) serving SmolLM2's GGUF."""

import asyncio
import json
import os
import time

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from playground import client
from playground.endpoints import EndpointConfig, complete
from playground.models import PlaygroundRun, RunStatus
from playground.selectors import endpoint_config
from playground.services import model_register_endpoint, runs_fail_orphaned
from tests.llama_server import SERVED_MODEL, start_llama_server
from tests.playground.helpers import close_orm_thread, collect, connect, login_cookie  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.usefixtures("close_orm_thread")]

ENDPOINT = "smollm2-endpoint"
KEY_VAR = "LLM_TEST_ENDPOINT_KEY"


# Generous: on a busy 2-core machine llama.cpp can take seconds per token.
TIMEOUT = 120


def register(server, *, name=ENDPOINT, key_var=KEY_VAR, **extra):
    return model_register_endpoint(name=name, display_name="SmolLM2 (llama.cpp)", base_url=server.base_url,
                                   served_model=SERVED_MODEL, api_key_env=key_var, timeout_seconds=TIMEOUT, **extra)


@pytest.fixture
def endpoint(llama_server, monkeypatch):
    monkeypatch.setenv(KEY_VAR, llama_server.api_key)
    register(llama_server, tokenize_path="/extras/tokenize")
    return EndpointConfig(name=ENDPOINT, base_url=llama_server.base_url, served_model=SERVED_MODEL,
                          api_key_env=KEY_VAR, timeout=TIMEOUT)


async def start(comm, *, prompt="The three primary colours are", mode="completion", model=ENDPOINT, **params):
    params = {"temperature": 0, "max_new_tokens": 12, **params}
    await comm.send_json_to({"type": "start", "model": model, "mode": mode, "prompt": prompt, "params": params})


async def start_long(comm, *, tokens: int, model=ENDPOINT) -> str:
    """Start a long greedy story and read until `tokens` tokens came; returns the run's id."""
    await start(comm, model=model, prompt="Write a long story about a lighthouse keeper.", mode="chat",
                max_new_tokens=400)
    seen, public_id = 0, None
    while seen < tokens:
        event = await comm.receive_json_from(timeout=60)
        seen += event["type"] == "token"
        public_id = event["run"] if event["type"] == "started" else public_id
    return public_id


async def fresh_prompt_cache(config):
    """llama.cpp reuses the KV cache of the longest prefix the last request shares with
    this one; a prompt evaluated from a different cache state can round differently and
    flip a near-tie. A one-token request on an unrelated prompt puts the server in the
    same state before each of two generations compared."""
    await complete(config, mode="completion", prompt="Zebra", params={"temperature": 0, "max_new_tokens": 1})


async def run_row(public_id) -> PlaygroundRun:
    return await PlaygroundRun.objects.aget(public_id=public_id)


async def test_streams_tokens_with_the_endpoints_probabilities_and_saves_the_run(endpoint):
    comm = await connect((await login_cookie())[0])
    await start(comm, max_new_tokens=10)
    started, tokens, done = await collect(comm)
    assert started["notice"] and "attention" in started["notice"]  # the page says what an endpoint lacks
    assert done["type"] == "done" and done["finish_reason"] in ("length", "stop_token")
    assert 1 <= len(tokens) <= 10 and [t["index"] for t in tokens] == list(range(len(tokens)))
    for token in tokens:
        assert 0 < token["p"] <= 1 and token["p_sample"] is None
        assert 1 <= len(token["top"]) <= 5
        assert sum(alt["p"] for alt in token["top"]) <= 1 + 1e-6
        assert [alt["p"] for alt in token["top"]] == sorted((alt["p"] for alt in token["top"]), reverse=True)
    # Greedy: the chosen token is the most likely one, with the same probability.
    assert all(abs(t["top"][0]["p"] - t["p"]) < 1e-6 for t in tokens)
    run = await run_row(done["run"])
    assert run.status == RunStatus.DONE and run.model_name == ENDPOINT and run.device == "endpoint"
    assert run.output == done["text"] == "".join(t["text"] for t in tokens)
    assert run.completion_tokens == len(tokens) and len(run.tokens) == len(tokens)
    assert run.prompt_tokens > 3  # counted by the endpoint's tokenize route (llama.cpp streams no usage)
    await comm.disconnect()


@pytest.mark.parametrize("mode", ["completion", "chat"])
async def test_greedy_stream_equals_the_servers_own_non_streamed_answer(endpoint, mode):
    prompt = "Name three colours." if mode == "chat" else "Once upon a time"
    params = {"temperature": 0, "max_new_tokens": 24, "top_k": 50, "top_p": 1.0, "repetition_penalty": 1.0,
              "seed": None}

    await fresh_prompt_cache(endpoint)
    reference = await complete(endpoint, mode=mode, prompt=prompt, params=params)
    await fresh_prompt_cache(endpoint)
    comm = await connect((await login_cookie())[0])
    await start(comm, prompt=prompt, mode=mode, **params)
    _, tokens, done = await collect(comm)
    assert done["type"] == "done", done
    assert done["text"] == reference["text"] and reference["text"].strip()
    assert done["finish_reason"] == reference["finish_reason"]
    await comm.disconnect()


async def test_stop_ends_the_run_and_cancels_the_upstream_request(endpoint, llama_server):
    comm = await connect((await login_cookie())[0])
    began = time.monotonic()
    public_id = await start_long(comm, tokens=3)
    # Past the heartbeat's stale time, the sweep that fails dead workers' runs leaves this
    # one alone: the web process beats for the endpoint runs it streams.
    await asyncio.sleep(max(0.0, client.HEARTBEAT_STALE + 1 - (time.monotonic() - began)))
    assert await sync_to_async(runs_fail_orphaned)() == 0
    assert (await run_row(public_id)).status == RunStatus.RUNNING
    log_before = llama_server.log().count("Disconnected from client")
    stopped_at = time.monotonic()
    await comm.send_json_to({"type": "stop"})
    _, _, done = await collect(comm)
    assert done["type"] == "done" and done["finish_reason"] == "stopped"
    assert time.monotonic() - stopped_at < 2
    run = await run_row(done["run"])
    assert run.status == RunStatus.STOPPED and run.completion_tokens >= 3 and run.output
    # Server side: the server saw the client go and stopped generating for it.
    deadline = time.monotonic() + 10
    while llama_server.log().count("Disconnected from client") <= log_before and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert llama_server.log().count("Disconnected from client") > log_before
    # …and it is free at once: a short request is not queued behind 400 tokens.
    began = time.monotonic()
    await complete(endpoint, mode="completion", prompt="Hi", params={"temperature": 0, "max_new_tokens": 2})
    assert time.monotonic() - began < 5
    await comm.disconnect()


async def test_a_wrong_key_is_a_clear_error_in_the_pages_language(llama_server, monkeypatch):
    monkeypatch.setenv(KEY_VAR, "not-the-key")
    await sync_to_async(register)(llama_server)
    cookie, _user = await login_cookie()
    comm = await connect(cookie + b"; django_language=zh-hans")
    await start(comm)
    _, tokens, error = await collect(comm)
    assert error["type"] == "error" and error["code"] == "endpoint_auth" and not tokens
    assert "API" in error["message"] and "密钥" in error["message"]  # Chinese, with the status
    run = await PlaygroundRun.objects.aget()
    assert run.status == RunStatus.ERROR and run.finish_reason == "endpoint_auth"
    # A missing variable says which one, and the key never appears anywhere.
    monkeypatch.delenv(KEY_VAR)
    await start(comm)
    _, _, error = await collect(comm)
    assert error["code"] == "endpoint_no_key" and KEY_VAR in error["message"]
    await comm.disconnect()


async def test_a_server_killed_mid_stream_gives_a_clear_error_and_a_saved_partial_run(
        llama_server, tmp_path, monkeypatch):
    doomed = await sync_to_async(start_llama_server)(tmp_path)
    try:
        monkeypatch.setenv("LLM_TEST_DOOMED_KEY", doomed.api_key)
        monkeypatch.setenv(KEY_VAR, llama_server.api_key)
        await sync_to_async(register)(doomed, name="doomed", key_var="LLM_TEST_DOOMED_KEY")
        await sync_to_async(register)(llama_server)
        comm = await connect((await login_cookie())[0])
        seen = 3
        await start_long(comm, tokens=seen, model="doomed")
        doomed.proc.kill()  # kill -9
        _, more, error = await collect(comm, timeout=30)
        assert error["type"] == "error" and error["code"] in ("endpoint_cut", "endpoint_down")
        assert "saved" in error["message"]
        run = await PlaygroundRun.objects.aget(model_name="doomed")
        assert run.status == RunStatus.ERROR and run.finish_reason == error["code"]
        assert run.completion_tokens >= seen and run.output and len(run.tokens) == run.completion_tokens
        # The socket and the other models keep serving.
        await start(comm, max_new_tokens=3)
        _, _, done = await collect(comm)
        assert done["type"] == "done"
        await comm.disconnect()
    finally:
        doomed.stop()


async def test_a_chinese_prompt_round_trips_unchanged_through_the_run_page(endpoint):
    prompt = "请用一句话解释什么是大语言模型。"
    cookie, user = await login_cookie()
    comm = await connect(cookie + b"; django_language=zh-hans")
    await start(comm, prompt=prompt, mode="chat", max_new_tokens=24)
    started, tokens, done = await collect(comm)
    assert done["type"] == "done" and tokens
    assert "注意力" in started["notice"]  # the notice in the page's language
    run = await run_row(done["run"])
    assert run.prompt == prompt and run.output == done["text"]

    def page():
        client = Client()
        client.force_login(user)
        client.cookies["django_language"] = "zh-hans"
        return client.get(run.get_absolute_url()).content.decode()

    html = await sync_to_async(page)()
    assert prompt in html
    await comm.disconnect()


async def test_an_endpoint_that_is_down_or_silent_fails_fast_and_clearly():
    import socket

    from tests.processes import free_port

    await sync_to_async(model_register_endpoint)(
        name="nowhere", display_name="Nowhere", base_url=f"http://127.0.0.1:{free_port()}/v1", served_model="x")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)  # accepts connections, never answers
    await sync_to_async(model_register_endpoint)(
        name="silent", display_name="Silent", base_url=f"http://127.0.0.1:{silent.getsockname()[1]}/v1",
        served_model="x", timeout_seconds=1)
    try:
        comm = await connect((await login_cookie())[0])
        await start(comm, model="nowhere")
        _, _, error = await collect(comm, timeout=10)
        assert error["code"] == "endpoint_down"
        began = time.monotonic()
        await start(comm, model="silent")
        _, _, error = await collect(comm, timeout=10)
        assert error["code"] == "endpoint_timeout" and time.monotonic() - began < 5
        statuses = {r.model_name: (r.status, r.finish_reason) async for r in PlaygroundRun.objects.all()}
        assert statuses == {"nowhere": (RunStatus.ERROR, "endpoint_down"), "silent": (RunStatus.ERROR, "endpoint_timeout")}
        await comm.disconnect()
    finally:
        silent.close()


async def test_a_rate_limited_endpoint_says_when_to_retry():
    # llama.cpp's server has no rate limit; a real HTTP server on a real socket answers
    # 429 the way vLLM behind a gateway does.
    async def answer_429(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
        await writer.drain()
        writer.close()

    gateway = await asyncio.start_server(answer_429, "127.0.0.1", 0)
    port = gateway.sockets[0].getsockname()[1]
    await sync_to_async(model_register_endpoint)(name="limited", display_name="Limited",
                                                 base_url=f"http://127.0.0.1:{port}/v1", served_model="x")
    try:
        comm = await connect((await login_cookie())[0])
        await start(comm, model="limited")
        _, _, error = await collect(comm, timeout=10)
        assert error["code"] == "endpoint_rate_limited" and "7" in error["message"]
        run = await PlaygroundRun.objects.aget(model_name="limited")
        assert run.status == RunStatus.ERROR and "7" in run.error
        await comm.disconnect()
    finally:
        gateway.close()


async def test_the_tokenizer_box_says_why_it_cannot_show_an_endpoints_tokens():
    from tests.processes import free_port

    await sync_to_async(model_register_endpoint)(
        name="remote", display_name="Remote", base_url=f"http://127.0.0.1:{free_port()}/v1", served_model="x")
    comm = await connect((await login_cookie())[0] + b"; django_language=zh-hans")
    await comm.send_json_to({"type": "tokenize", "model": "remote", "text": "你好", "request_id": "t1"})
    reply = await comm.receive_json_from(timeout=10)
    assert reply["type"] == "error" and reply["code"] == "endpoint_no_tokenizer" and reply["request_id"] == "t1"
    assert "分词器" in reply["message"]
    await comm.disconnect()


async def test_an_endpoint_over_its_concurrency_limit_answers_busy_and_the_first_run_goes_on(llama_server, monkeypatch):
    monkeypatch.setenv(KEY_VAR, llama_server.api_key)
    await sync_to_async(register)(llama_server, max_concurrency=1)
    first = await connect((await login_cookie())[0])
    await start_long(first, tokens=1)
    second = await connect((await login_cookie())[0])
    await start(second)
    _, _, error = await collect(second, timeout=10)
    assert error["code"] == "busy"
    await first.send_json_to({"type": "stop"})
    _, _, done = await collect(first)
    assert done["type"] == "done" and done["finish_reason"] == "stopped"
    # The slot is free again.
    await start(second, max_new_tokens=2)
    _, _, done = await collect(second)
    assert done["type"] == "done"
    await first.disconnect()
    await second.disconnect()


async def test_closing_the_tab_cancels_the_upstream_request_and_keeps_the_run(endpoint, llama_server):
    comm = await connect((await login_cookie())[0])
    public_id = await start_long(comm, tokens=2)
    disconnects = llama_server.log().count("Disconnected from client")
    await comm.disconnect()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        run = await run_row(public_id)
        if run.status != RunStatus.RUNNING and llama_server.log().count("Disconnected from client") > disconnects:
            break
        await asyncio.sleep(0.1)
    assert run.status == RunStatus.STOPPED and run.completion_tokens >= 2
    assert llama_server.log().count("Disconnected from client") > disconnects


async def test_a_web_process_killed_mid_stream_leaves_its_run_failed_with_the_tokens_so_far(endpoint, tmp_path):
    """The web process streams from the endpoint itself; killed (kill -9) mid-stream, its
    heartbeat stops and the usual sweep fails the run, keeping the last checkpoint."""
    import subprocess
    import sys

    import websockets

    from tests.processes import ROOT, child_env, free_port, stop

    port = free_port()
    log = open(tmp_path / "web.log", "w")  # noqa: SIM115  (closed below)
    web = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--port", str(port), "--lifespan", "on",
         "--ws", "websockets-sansio"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        # No model worker is needed: the endpoint is streamed by the web process.
        env=child_env(LLM_EMBEDDED_WORKER="0", ALLOWED_HOSTS="127.0.0.1", **{KEY_VAR: os.environ[KEY_VAR]}))
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                async with httpx.AsyncClient() as http:
                    await http.get(base + "/healthz", timeout=5)
                break
            except httpx.HTTPError:
                await asyncio.sleep(0.3)
        cookie = (await login_cookie())[0].decode()
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/playground/",
                                      additional_headers={"Cookie": cookie, "Origin": base}) as ws:
            await ws.send(json.dumps({"type": "start", "model": ENDPOINT, "mode": "chat", "prompt": "Write a long story.",
                                      "params": {"temperature": 0, "max_new_tokens": 400}}))
            seen = 0
            while seen < 3:
                event = json.loads(await ws.recv())
                seen += event["type"] == "token"
                if event["type"] == "started":
                    public_id = event["run"]
            deadline = time.monotonic() + 30
            while (await run_row(public_id)).completion_tokens == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.2)  # until the first checkpoint is saved (about a second in)
            web.kill()
        run = await run_row(public_id)
        assert run.status == RunStatus.RUNNING and run.completion_tokens >= 1  # the checkpoint
        await asyncio.sleep(client.HEARTBEAT_STALE + 1)
        assert await sync_to_async(runs_fail_orphaned)() == 1
        run = await run_row(public_id)
        assert run.status == RunStatus.ERROR and run.finish_reason == "worker_lost" and run.output
    finally:
        stop(web)
        log.close()


async def test_an_endpoint_that_does_not_stream_still_shows_each_token(llama_server, monkeypatch):
    monkeypatch.setenv(KEY_VAR, llama_server.api_key)
    await sync_to_async(register)(llama_server, name="whole", supports_streaming=False)
    config = await sync_to_async(endpoint_config)(name="whole")
    params = {"temperature": 0, "max_new_tokens": 12, "top_p": 1.0, "repetition_penalty": 1.0}
    await fresh_prompt_cache(config)
    reference = await complete(config, mode="completion", prompt="Once upon a time", params=params)
    await fresh_prompt_cache(config)
    comm = await connect((await login_cookie())[0])
    await start(comm, model="whole", prompt="Once upon a time", **params)
    _, tokens, done = await collect(comm)
    assert done["type"] == "done" and done["text"] == reference["text"]
    assert len(tokens) > 1 and all(t["top"] and t["p"] for t in tokens)
    await comm.disconnect()
