"""OpenAI-compatible inference endpoints (vLLM, SGLang, TGI, llama.cpp's server).

What the web side needs to talk to one, and nothing about runs or sockets (that is
`playground.endpoint_stream`):

- `EndpointConfig`, a plain copy of a registry entry's endpoint row;
- `read_api_key`: the key comes from an environment variable or a secret file named in
  the registry, read at each request, never stored in the database;
- `stream_completion`: an async generator over one streamed `/completions` or
  `/chat/completions` request that yields our token events (`p` and the top-5 from
  `logprobs`) and finally a finish event; every failure is an `EndpointError` with a
  documented code (playground/client.py has the words);
- `complete`: the same request, not streamed (tests and the bench compare with it);
- `probe`: one endpoint's state for the health pages.

httpx talks to the server. Each generation gets its own connection, so cancelling the
task that reads the stream closes it, and the server sees the client go at once.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

TOP_N = 5  # alternatives per token, as our own workers give
# An endpoint's finish reasons in our codes (models.FINISH_REASONS has the words).
FINISH = {"stop": "stop_token", "eos": "stop_token", "length": "length"}


@dataclass(frozen=True)
class EndpointConfig:
    name: str  # the registry name
    base_url: str  # up to and including /v1
    served_model: str
    api_key_env: str = ""
    api_key_file: str = ""
    timeout: float = 30.0  # seconds to connect, and at most between two chunks
    max_tokens: int = 512  # new tokens per generation, at most
    max_concurrency: int = 8  # generations at once per web process
    streaming: bool = True  # streams (SSE); else one whole answer, shown token by token
    logprobs: bool = True  # gives logprobs / top_logprobs
    chat: bool = True  # has /chat/completions
    tokenize_path: str = ""  # e.g. /tokenize (vLLM) or /extras/tokenize (llama.cpp), under the server root

    @classmethod
    def from_entry(cls, entry) -> EndpointConfig:
        e = entry.endpoint
        return cls(name=entry.name, base_url=e.base_url.rstrip("/"), served_model=e.served_model,
                   api_key_env=e.api_key_env, api_key_file=e.api_key_file, timeout=e.timeout_seconds,
                   max_tokens=e.max_tokens, max_concurrency=e.max_concurrency, streaming=e.supports_streaming,
                   logprobs=e.supports_logprobs,
                   chat=e.supports_chat, tokenize_path=e.tokenize_path)

    @property
    def host(self) -> str:
        """Scheme, host and port only: what an admin page may show."""
        url = httpx.URL(self.base_url)
        return f"{url.scheme}://{url.host}" + (f":{url.port}" if url.port else "")


class EndpointError(Exception):
    """A failure with a code for programs and parameters for the words (client.error_text)."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


def read_api_key(config: EndpointConfig) -> str | None:
    """The key, from the variable or file the registry names; None when it names neither."""
    if config.api_key_env:
        key = os.environ.get(config.api_key_env, "").strip()
        if not key:
            raise EndpointError("endpoint_no_key", where=config.api_key_env)
        return key
    if config.api_key_file:
        try:
            with open(config.api_key_file, encoding="utf-8") as fh:
                key = fh.read().strip()
        except OSError:
            key = ""
        if not key:
            raise EndpointError("endpoint_no_key", where=config.api_key_file)
        return key
    return None


def _headers(key: str | None) -> dict:
    return {"Authorization": f"Bearer {key}"} if key else {}


def _client(config: EndpointConfig) -> httpx.AsyncClient:
    # trust_env=False: an inference server is reached directly, never through a proxy
    # that the web process's environment may name for the internet.
    return httpx.AsyncClient(timeout=httpx.Timeout(config.timeout), trust_env=False)


def request_body(config: EndpointConfig, *, mode: str, prompt: str, params: dict, stream: bool) -> tuple[str, dict]:
    """The path and JSON body for one generation with our (validated) parameters."""
    temperature = float(params.get("temperature", 0.7))
    body: dict = {
        "model": config.served_model,
        "max_tokens": min(int(params.get("max_new_tokens") or config.max_tokens), config.max_tokens),
        "temperature": temperature,
        "top_p": float(params.get("top_p", 1.0)),
        "stream": stream,
    }
    if params.get("seed") is not None:
        body["seed"] = int(params["seed"])
    # Not in OpenAI's API, but vLLM, SGLang and TGI read repetition_penalty and top_k, and
    # llama.cpp repeat_penalty (its default is 1.1, not "off"): always sent, so our 1.0 means 1.0.
    if temperature > 0:
        body["top_k"] = int(params.get("top_k") or 0)
    body["repetition_penalty"] = body["repeat_penalty"] = float(params.get("repetition_penalty", 1.0))
    if stream:
        body["stream_options"] = {"include_usage": True}
    if mode == "chat":
        if not config.chat:
            raise EndpointError("no_chat_template")
        body["messages"] = [{"role": "user", "content": prompt}]
        if config.logprobs:
            body |= {"logprobs": True, "top_logprobs": TOP_N}
        return "/chat/completions", body
    body["prompt"] = prompt
    if config.logprobs:
        body["logprobs"] = TOP_N
    return "/completions", body


def _p(logprob) -> float | None:
    if logprob is None:
        return None
    try:
        return min(1.0, math.exp(float(logprob)))
    except (TypeError, ValueError, OverflowError):
        return None


def _top(pairs) -> list[dict]:
    """The TOP_N most likely (text, logprob) pairs as our alternatives, most likely first."""
    ranked = sorted(((text, _p(lp)) for text, lp in pairs), key=lambda tp: -(tp[1] or 0.0))
    return [{"id": None, "text": text, "p": p} for text, p in ranked[:TOP_N] if p is not None]


def _logprob_tokens(choice: dict) -> list[tuple[str, float | None, list[dict]]]:
    """(token text, p, top) for each token a chunk's `logprobs` covers: the completions
    format (tokens / token_logprobs / top_logprobs) or the chat one (content)."""
    lp = choice.get("logprobs")
    if not isinstance(lp, dict):
        return []
    if isinstance(lp.get("content"), list):  # chat
        return [(item.get("token", ""), _p(item.get("logprob")),
                 _top((alt.get("token", ""), alt.get("logprob")) for alt in item.get("top_logprobs") or []))
                for item in lp["content"]]
    tokens = lp.get("tokens") or []
    logprobs = lp.get("token_logprobs") or [None] * len(tokens)
    tops = lp.get("top_logprobs") or [None] * len(tokens)
    return [(text, _p(logprob), _top((top or {}).items()))
            for text, logprob, top in zip(tokens, logprobs, tops, strict=False)]


def _chunk_text(choice: dict) -> str:
    if "delta" in choice:
        return (choice.get("delta") or {}).get("content") or ""
    return choice.get("text") or ""


def chunk_tokens(choice: dict, start_index: int) -> list[dict]:
    """A streamed choice as our token events. One chunk is normally one token; when a
    chunk carries several, each gets its own event if their texts add up to the chunk's."""
    text = _chunk_text(choice)
    covered = _logprob_tokens(choice)
    if len(covered) > 1 and "".join(t for t, _p_, _t in covered) == text:
        parts = covered
    elif covered:
        parts = [(text, covered[0][1], covered[0][2])]
    elif text:
        parts = [(text, None, [])]
    else:
        return []
    return [{"type": "token", "index": start_index + i, "id": None, "text": t, "p": p, "p_sample": None, "top": top}
            for i, (t, p, top) in enumerate(parts)]


def _raise_for_status(response: httpx.Response, body_text: str = "") -> None:
    status = response.status_code
    if status < 400:
        return
    if status in (401, 403):
        raise EndpointError("endpoint_auth", status=status)
    if status == 429:
        raise EndpointError("endpoint_rate_limited", retry_after=response.headers.get("retry-after") or "?")
    if status == 404:
        raise EndpointError("endpoint_model_missing", model=_served(response))
    raise EndpointError("endpoint_error", status=status)


def _served(response: httpx.Response) -> str:
    try:
        return json.loads(response.request.content or b"{}").get("model", "?")
    except (ValueError, AttributeError):
        return "?"


def _transport_error(exc: Exception) -> EndpointError:
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        return EndpointError("endpoint_timeout")
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return EndpointError("endpoint_down")
    return EndpointError("endpoint_cut")


async def stream_completion(config: EndpointConfig, *, mode: str, prompt: str, params: dict
                            ) -> AsyncIterator[dict]:
    """Yield token events, then one {"type": "finish", "finish_reason", "usage"}.

    Raises EndpointError on any failure, after the tokens that did arrive. Closing the
    generator (or cancelling the task iterating it) closes the connection.
    """
    if not config.streaming:
        reply = await _post(config, mode=mode, prompt=prompt, params=params)
        choice = reply["choices"][0]
        whole = {**choice, "delta": choice["message"]} if "message" in choice else choice
        for event in chunk_tokens(whole, 0):
            yield event
        yield {"type": "finish", "finish_reason": FINISH.get(choice.get("finish_reason"), choice.get("finish_reason")),
               "usage": reply.get("usage") or {}}
        return
    key = read_api_key(config)
    path, body = request_body(config, mode=mode, prompt=prompt, params=params, stream=True)
    index, finish, usage = 0, None, {}
    try:
        async with _client(config) as client, client.stream(
                "POST", config.base_url + path, json=body, headers=_headers(key)) as response:
            if response.status_code >= 400:
                await response.aread()
                _raise_for_status(response)
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    if finish is None:
                        raise EndpointError("endpoint_cut")
                    yield {"type": "finish", "finish_reason": FINISH.get(finish, finish), "usage": usage}
                    return
                try:
                    chunk = json.loads(data)
                except ValueError:
                    raise EndpointError("endpoint_bad_reply") from None
                if "error" in chunk:
                    raise EndpointError("endpoint_error", status=(chunk["error"] or {}).get("code", "?"))
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices") or []:
                    for event in chunk_tokens(choice, index):
                        index += 1
                        yield event
                    finish = choice.get("finish_reason") or finish
    except httpx.HTTPError as exc:
        raise _transport_error(exc) from exc
    # The body ended without [DONE]: some servers stop after the last chunk.
    if finish is None:
        raise EndpointError("endpoint_cut")
    yield {"type": "finish", "finish_reason": FINISH.get(finish, finish), "usage": usage}


async def _post(config: EndpointConfig, *, mode: str, prompt: str, params: dict) -> dict:
    """One generation, not streamed: the server's JSON reply."""
    key = read_api_key(config)
    path, body = request_body(config, mode=mode, prompt=prompt, params=params, stream=False)
    try:
        async with _client(config) as client:
            response = await client.post(config.base_url + path, json=body, headers=_headers(key))
    except httpx.HTTPError as exc:
        raise _transport_error(exc) from exc
    _raise_for_status(response)
    try:
        reply = response.json()
        reply["choices"][0]  # noqa: B018  (an answer without a choice is not OpenAI-compatible)
    except (ValueError, KeyError, IndexError, TypeError):
        raise EndpointError("endpoint_bad_reply") from None
    return reply


async def complete(config: EndpointConfig, *, mode: str, prompt: str, params: dict) -> dict:
    """One generation, not streamed: {"text", "finish_reason", "usage"} as the server gives it."""
    reply = await _post(config, mode=mode, prompt=prompt, params=params)
    choice = reply["choices"][0]
    text = choice["message"]["content"] if "message" in choice else choice["text"]
    return {"text": text or "", "finish_reason": FINISH.get(choice.get("finish_reason"), choice.get("finish_reason")),
            "usage": reply.get("usage") or {}}


async def tokenize(config: EndpointConfig, text: str) -> list[dict]:
    """The prompt as the server's tokenizer reads it, [{id, text}], through its tokenize
    route (vLLM's /tokenize and llama.cpp's /extras/tokenize both answer {"tokens": [...]};
    vLLM adds the pieces with return_token_strs). [] when the endpoint has no route."""
    if not config.tokenize_path:
        return []
    root = config.base_url.removesuffix("/v1")
    body = {"model": config.served_model, "prompt": text, "input": text, "return_token_strs": True}
    try:
        async with _client(config) as client:
            response = await client.post(root + config.tokenize_path, json=body, headers=_headers(read_api_key(config)))
    except httpx.HTTPError as exc:
        raise _transport_error(exc) from exc
    _raise_for_status(response)
    reply = response.json()
    ids = reply.get("tokens") or []
    pieces = reply.get("token_strs") or [""] * len(ids)
    return [{"id": i, "text": piece} for i, piece in zip(ids, pieces, strict=False)]


async def probe(config: EndpointConfig, *, timeout: float = 2.0) -> dict:
    """One endpoint's state: up, model_missing, auth, no_key, down, timeout or error
    (with the time it took). Lists the server's /models; never shows the key."""
    started = time.perf_counter()
    state = "up"
    try:
        key = read_api_key(config)
        async with httpx.AsyncClient(timeout=min(timeout, config.timeout), trust_env=False) as client:
            response = await client.get(config.base_url + "/models", headers=_headers(key))
        _raise_for_status(response)
        served = {m.get("id") for m in response.json().get("data", [])}
        if config.served_model not in served:
            state = "model_missing"
    except EndpointError as exc:
        state = {"endpoint_auth": "auth", "endpoint_no_key": "no_key", "endpoint_model_missing": "model_missing"}.get(
            exc.code, "error")
    except httpx.TimeoutException:
        state = "timeout"
    except httpx.HTTPError:
        state = "down"
    except ValueError:
        state = "error"
    return {"name": config.name, "host": config.host, "model": config.served_model, "state": state,
            "ms": round((time.perf_counter() - started) * 1000, 1)}
