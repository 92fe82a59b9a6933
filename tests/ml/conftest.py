"""Tests of the Django-free model code (playground/ml, training/ml).

Nothing here sets up Django: these tests import only the model code, so they also run
by themselves, without the Django plugin or the suite's conftest:

    .venv/bin/pytest -p no:django --confcutdir tests/ml tests/ml

(`test_imports.py` checks in a fresh interpreter that the modules tested here pull in
no Django.) The real default model is read from LLM_MODEL_DIR (default var/models),
where `manage.py provision_models` puts it.
"""

import os
from pathlib import Path

import pytest

from playground.ml.kinds import CAUSAL_LM
from playground.ml.loading import ModelSpec, load_model
from playground.ml.provision import SMOLLM2_NAME

ROOT = Path(__file__).resolve().parents[2]


def model_dir() -> Path:
    return Path(os.environ.get("LLM_MODEL_DIR") or ROOT / "var" / "models")


def smollm2_path() -> Path:
    path = model_dir() / SMOLLM2_NAME
    if not (path / "config.json").is_file():
        pytest.fail(f"{path} holds no model: run `python manage.py provision_models` (or set LLM_MODEL_DIR)")
    return path


@pytest.fixture(scope="session")
def smollm2_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm2_path())


@pytest.fixture(scope="session")
def smollm2():
    """The real SmolLM2-135M-Instruct, fp32 on the CPU, loaded once for these tests."""
    spec = ModelSpec(name=SMOLLM2_NAME, kind=CAUSAL_LM, source=str(smollm2_path()))
    return load_model(spec, device="cpu")
