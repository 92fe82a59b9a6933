"""The web side's whole view of the model workers: channel names, message shapes,
`ask_worker`, `ping_workers`, and the words for the workers' error codes.

Only codes and parameters cross the wire; the web side turns them into text in the
page's language (`error_text`). Every id that keys a stream is made here, on the
server (`new_stream_id`); a client's `request_id` never reaches a worker.

Messages to the workers (all carry `reply_to`, the sender's channel):
  gen.start  {stream, run_id, model, mode, prompt, params, deadline}  → shared channel
  gen.stop   {stream}                                                 → the worker's own channel
  tokenize   {stream, model, text}                                    → shared channel
  attention  {stream, model, view, key, run | text, layer, head, ...} → shared channel
  lens       {stream, model, op: grid | ablate, key, run | text, token, from, to | ablate, mode, position}
                                                                      → shared channel
  worker.ping {}                                                      → WORKERS_GROUP
Replies (each carries the request's `stream`): gen.started {worker_channel, worker,
prompt_tokens}, gen.tokens {tokens}, gen.alive {}, gen.done {…}, tokenize.result,
attention.result, lens.result, worker.pong {worker}, worker.error {code, params}.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

WORKERS_GROUP = "llm.workers"
# A worker writes its heartbeat this often; one silent for HEARTBEAT_STALE is dead.
HEARTBEAT_SECONDS = 1.0
HEARTBEAT_STALE = 4.0
# A gen.start no worker has taken within this time is failed ("no_worker"); workers
# never start one past its deadline.
ACCEPT_TIMEOUT = 15.0


def user_group(user_id: int) -> str:
    """The channel-layer group every playground socket of one person joins, so that a
    deactivation reaches their open sockets on any web process (`user.deactivated`)."""
    return f"playground.user.{user_id}"


def requests_channel() -> str:
    """The channel every worker takes requests from (one worker gets each message)."""
    return settings.LLM_REQUESTS_CHANNEL


def new_stream_id() -> str:
    return uuid.uuid4().hex


def gen_start(*, reply_to: str, stream: str, run_id: int, clean: dict) -> dict:
    return {"type": "gen.start", "reply_to": reply_to, "stream": stream, "run_id": run_id,
            "deadline": time.time() + ACCEPT_TIMEOUT, **clean}


def gen_stop(*, stream: str) -> dict:
    return {"type": "gen.stop", "stream": stream}


def tokenize_request(*, reply_to: str, stream: str, model: str, text: str) -> dict:
    return {"type": "tokenize", "reply_to": reply_to, "stream": stream, "model": model, "text": text}


def lens_request(*, op: str, source: dict, **fields) -> dict:
    """A `lens` request: `source` is {model, key, run | text}; fields are the op's (docs/PROTOCOL.md)."""
    return {"type": "lens", "op": op, **source, **fields}


def worker_error(code: str, **params) -> dict:
    return {"type": "worker.error", "code": code, "params": params}


async def ask_worker(message: dict, *, timeout: float = 30.0, channel_layer=None) -> dict:
    """Send one request to the model workers and wait for its reply (request/response)."""
    layer = channel_layer or get_channel_layer()
    reply_to = await layer.new_channel()
    await layer.send(requests_channel(), {**message, "reply_to": reply_to, "stream": new_stream_id(),
                                          "deadline": time.time() + timeout})
    try:
        return await asyncio.wait_for(layer.receive(reply_to), timeout)
    except Exception:  # noqa: BLE001  (the timeout; redis-py reports a cancelled read as its own TimeoutError)
        return worker_error("no_worker")


async def ping_workers(*, timeout: float = 1.5, channel_layer=None) -> list[dict]:
    """Ask every model worker for its status; collect replies until `timeout`."""
    layer = channel_layer or get_channel_layer()
    # Always the default "specific." prefix: channels_redis multiplexes every
    # process-specific channel of a process through one blocking pop, per prefix.
    reply_to = await layer.new_channel()
    await layer.group_send(WORKERS_GROUP, {"type": "worker.ping", "reply_to": reply_to})
    replies: list[dict] = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = await asyncio.wait_for(layer.receive(reply_to), left)
        except Exception:  # noqa: BLE001  (the timeout, as above)
            break
        if message.get("type") == "worker.pong":
            replies.append(message["worker"])
    return replies


# --- words for codes -------------------------------------------------------------------

def _texts() -> dict:
    return {
        "prompt_too_long": _("The prompt is %(tokens)s tokens; the limit is %(limit)s. Shorten it and try again."),
        "no_chat_template": _("This model has no chat template; use completion mode."),
        "empty_prompt": _("The prompt is empty."),
        "busy": _("The model is busy; try again in a moment."),
        "unknown_model": _("There is no model %(model)r you can use."),
        "model_not_available": _("Model %(model)r is not available on the model worker: its weights cannot be read. "
                                 "An admin can fix its registry entry (Admin → Curation → Models)."),
        "model_changed": _("Model %(model)r cannot be used: its stored files do not match their sha256 checksums "
                           "(changed or damaged since training). Train it again, or ask an admin to remove it."),
        "no_worker": _("No model worker answered; the model may still be loading. Try again shortly."),
        "worker_lost": _("The model worker stopped while generating; the tokens so far are saved. Try again."),
        "expired": _("The request waited too long for a model worker; try again."),
        "too_long": _("This text is %(tokens)s tokens; the %(view)s view shows at most %(limit)s. "
                      "Use the heatmap, or a shorter text."),
        "bad_layer": _("Layer must be between 0 and %(max)s."),
        "bad_head": _("Head must be between 0 and %(max)s."),
        "no_text": _("There is no text to look at."),
        "account_deactivated": _("Your account has been deactivated; this connection is closed."),
        # The layer view and switch-offs (playground/ml/lens.py).
        "lens_too_long": _("This text is %(tokens)s tokens; the layer view shows at most %(limit)s. "
                           "Use a shorter text."),
        "lens_not_causal": _("The layer view and switch-offs need a model that predicts the next token; "
                             "%(model)r is an encoder."),
        "lens_unsupported": _("This model's layers cannot be read this way."),
        "bad_token": _("Type the token to follow (for example \" Paris\", with its leading space)."),
        "not_one_token": _("%(token)r is more than one token for this model (%(pieces)s); pick one of them."),
        "bad_ablation": _("%(item)r is not something to switch off: write a head as layer.head (13.8), or "
                          "13.attn or 13.mlp for a whole layer's attention or MLP."),
        "too_many_ablations": _("Switch off at most %(limit)s heads or sublayers at once."),
        "bad_mode": _("Switch-offs are either zero or mean."),
        "bad_position": _("The position must be between 0 and %(max)s."),
        "bad_request": _("The request is not one the model worker understands."),
        "internal": _("Something went wrong in the model worker; it keeps serving. Try again."),
        # OpenAI-compatible endpoints (playground/endpoints.py); other models keep serving.
        "endpoint_down": _("The inference endpoint cannot be reached (it may be down); the tokens so far are saved. "
                           "Other models still work."),
        "endpoint_timeout": _("The inference endpoint did not answer in time; the tokens so far are saved. "
                              "Try again, or try another model."),
        "endpoint_rate_limited": _("The inference endpoint is over its rate limit (retry after %(retry_after)s s); "
                                   "the tokens so far are saved."),
        "endpoint_auth": _("The inference endpoint refused our API key (HTTP %(status)s). An admin must check the "
                           "key's environment variable or secret file."),
        "endpoint_no_key": _("The API key for this endpoint is missing: %(where)s is not set or empty. "
                             "An admin must provide it."),
        "endpoint_cut": _("The inference endpoint cut the stream off; the tokens so far are saved. Try again."),
        "endpoint_error": _("The inference endpoint answered with an error (%(status)s); the tokens so far are saved."),
        "endpoint_model_missing": _("The inference endpoint does not serve the model %(model)r. An admin must fix "
                                    "the served model name (Curation)."),
        "endpoint_bad_reply": _("The inference endpoint sent something that is not an OpenAI-compatible stream."),
        "endpoint_no_tokenizer": _("This model is served by an inference endpoint: the tokenizer view shows only "
                                   "the tokenizers of models our workers hold."),
    }


def error_text(code: str, params: dict | None = None, language: str | None = None) -> str:
    """A worker's error code and parameters in words, in `language` (or the active one)."""
    with translation.override(language or translation.get_language() or settings.LANGUAGE_CODE):
        template = _texts().get(code)
        if template is None:
            return code
        try:
            return template % (params or {})
        except (KeyError, TypeError, ValueError):
            return template
