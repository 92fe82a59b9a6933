"""Validate what a client asks for before anything reaches a model worker."""

from __future__ import annotations

from django.conf import settings

MODES = ("completion", "chat")
MAX_PROMPT_CHARS = 20_000

# name: (type, minimum, maximum, default)
PARAMS = {
    "temperature": (float, 0.0, 2.0, 0.7),
    "top_k": (int, 0, 500, 50),
    "top_p": (float, 0.01, 1.0, 1.0),
    "repetition_penalty": (float, 1.0, 2.0, 1.0),
    "max_new_tokens": (int, 1, None, 128),  # maximum from settings.LLM_MAX_NEW_TOKENS
    "seed": (int, 0, 2**31 - 1, None),
}


class ParamError(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def validate_start(content: dict) -> dict:
    """Return the cleaned request {model, mode, prompt, params} or raise ParamError."""
    model, mode, prompt = content.get("model"), content.get("mode", "completion"), content.get("prompt")
    if not isinstance(model, str) or not model:
        raise ParamError("bad_request", "Choose a model.")
    if mode not in MODES:
        raise ParamError("bad_parameter", f"mode must be one of {', '.join(MODES)}.")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ParamError("bad_parameter", "The prompt is empty.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ParamError("prompt_too_long", f"The prompt is limited to {MAX_PROMPT_CHARS} characters.")
    raw = content.get("params") or {}
    if not isinstance(raw, dict):
        raise ParamError("bad_parameter", "params must be an object.")
    unknown = set(raw) - set(PARAMS)
    if unknown:
        raise ParamError("bad_parameter", f"Unknown parameter(s): {', '.join(sorted(unknown))}.")
    params = {}
    for name, (kind, low, high, default) in PARAMS.items():
        if name == "max_new_tokens":
            high = settings.LLM_MAX_NEW_TOKENS
        value = raw.get(name, default)
        if value is None or value == "":
            if default is not None:
                raise ParamError("bad_parameter", f"{name} is required.")
            params[name] = None
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not float(value).is_integer()):
            raise ParamError("bad_parameter", f"{name} must be {'an integer' if kind is int else 'a number'}.")
        value = kind(value)
        if value != value or value < low or value > high:  # value != value catches NaN
            raise ParamError("bad_parameter", f"{name} must be between {low} and {high}; got {value}.")
        params[name] = value
    return {"model": model, "mode": mode, "prompt": prompt, "params": params}
