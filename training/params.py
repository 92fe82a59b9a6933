"""Presets and the advanced fields of a fine-tune, validated before anything is queued."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from playground.ml import kinds

from .models import JobKind, Method

# preset → kind → parameters. The quick CPU demo finishes in well under 3 minutes on a
# 2-core CPU (docs/PERFORMANCE.md); the GPU standard is sized for one H100.
PRESETS = {
    "cpu-quick": {
        "label": _("Quick CPU demo (about a minute)"),
        JobKind.CAUSAL_LM: {"steps": 24, "batch_size": 4, "seq_len": 64, "learning_rate": 3e-4, "warmup_steps": 2},
        JobKind.CLASSIFIER: {"steps": 30, "batch_size": 8, "seq_len": 64, "learning_rate": 2e-4, "warmup_steps": 2},
    },
    "gpu-standard": {
        "label": _("GPU standard"),
        JobKind.CAUSAL_LM: {"steps": 300, "batch_size": 16, "seq_len": 512, "learning_rate": 2e-4,
                            "warmup_steps": 20},
        JobKind.CLASSIFIER: {"steps": 300, "batch_size": 32, "seq_len": 128, "learning_rate": 1e-4,
                             "warmup_steps": 20},
    },
}
DEFAULT_PRESET = "cpu-quick"
COMMON_DEFAULTS = {"lora_r": 8, "eval_fraction": 0.2, "seed": 0}

# name: (type, minimum, maximum or a settings name for it)
FIELDS = {
    "steps": (int, 1, "TRAINING_MAX_STEPS"),
    "batch_size": (int, 1, 64),
    "seq_len": (int, 16, 1024),
    "learning_rate": (float, 1e-7, 1e-2),
    "warmup_steps": (int, 0, 1000),
    "lora_r": (int, 1, 64),
    "eval_fraction": (float, 0.05, 0.5),
    "seed": (int, 0, 2**31 - 1),
}

# A causal-LM fine-tune starts from a causal LM, a classifier from an encoder.
BASE_KIND = {JobKind.CAUSAL_LM: kinds.CAUSAL_LM, JobKind.CLASSIFIER: kinds.ENCODER}


def base_model(kind: str) -> str:
    """The registry name of the model a fine-tune of `kind` starts from (settings.LLM_DEFAULT_MODELS)."""
    return settings.LLM_DEFAULT_MODELS[BASE_KIND[kind]]


class ParamsInvalid(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def params_build(*, kind: str, preset: str, method: str, overrides: dict | None = None) -> dict:
    """The preset's values, with any advanced field the employee filled in on top."""
    errors: dict[str, str] = {}
    if preset not in PRESETS:
        raise ParamsInvalid({"preset": f"unknown preset {preset!r}"})
    if kind not in JobKind.values:
        raise ParamsInvalid({"kind": f"unknown kind {kind!r}"})
    if method not in Method.values or (kind == JobKind.CLASSIFIER and method != Method.FULL):
        if kind == JobKind.CLASSIFIER:
            method = Method.FULL  # a classifier head trains fully; LoRA makes no sense on 22M params
        else:
            raise ParamsInvalid({"method": f"unknown method {method!r}"})
    params = {**COMMON_DEFAULTS, **PRESETS[preset][kind]}
    for name, raw in (overrides or {}).items():
        if raw in (None, ""):
            continue
        if name not in FIELDS:
            errors[name] = "unknown field"
            continue
        cast, low, high = FIELDS[name]
        if isinstance(high, str):
            high = getattr(settings, high)
        try:
            value = cast(raw)
        except (TypeError, ValueError):
            errors[name] = f"must be a {'whole number' if cast is int else 'number'}"
            continue
        if not low <= value <= high:
            errors[name] = f"must be between {low} and {high}"
            continue
        params[name] = value
    if errors:
        raise ParamsInvalid(errors)
    params["method"] = method
    return params
