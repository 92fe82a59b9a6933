"""Validate what a client asks for before anything reaches a model worker."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _

from .ml.limits import MAX_PROMPT_CHARS

MODES = ("completion", "chat")

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
        raise ParamError("bad_request", _("Choose a model."))
    if mode not in MODES:
        raise ParamError("bad_parameter", _("mode must be one of %(modes)s.") % {"modes": ", ".join(MODES)})
    if not isinstance(prompt, str) or not prompt.strip():
        raise ParamError("bad_parameter", _("The prompt is empty."))
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ParamError("prompt_too_long", _("The prompt is limited to %(n)s characters.") % {"n": MAX_PROMPT_CHARS})
    raw = content.get("params") or {}
    if not isinstance(raw, dict):
        raise ParamError("bad_parameter", _("params must be an object."))
    unknown = set(raw) - set(PARAMS)
    if unknown:
        raise ParamError("bad_parameter", _("Unknown parameter(s): %(names)s.") % {"names": ", ".join(sorted(unknown))})
    params = {}
    for name, (kind, low, high, default) in PARAMS.items():
        if name == "max_new_tokens":
            high = settings.LLM_MAX_NEW_TOKENS
        value = raw.get(name, default)
        if value is None or value == "":
            if default is not None:
                raise ParamError("bad_parameter", _("%(name)s is required.") % {"name": name})
            params[name] = None
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not float(value).is_integer()):
            raise ParamError("bad_parameter", (_("%(name)s must be an integer.") if kind is int
                                                else _("%(name)s must be a number.")) % {"name": name})
        value = kind(value)
        if value != value or value < low or value > high:  # value != value catches NaN
            raise ParamError("bad_parameter", _("%(name)s must be between %(low)s and %(high)s; got %(value)s.")
                             % {"name": name, "low": low, "high": high, "value": value})
        params[name] = value
    return {"model": model, "mode": mode, "prompt": prompt, "params": params}
