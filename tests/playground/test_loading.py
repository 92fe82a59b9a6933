import pytest

from playground.ml.errors import ModelNotAvailable
from playground.ml.kinds import CAUSAL_LM, ENCODER
from playground.ml.loading import ModelSpec, check_available, load_model
from playground.ml.provision import minilm_path


def test_missing_folder_says_how_to_provide_it(tmp_path):
    spec = ModelSpec(name="ghost", kind=CAUSAL_LM, source=str(tmp_path / "nowhere"))
    with pytest.raises(ModelNotAvailable) as excinfo:
        load_model(spec)
    message = str(excinfo.value)
    assert "'ghost' is not available" in message
    assert "manage.py provision_models" in message
    assert excinfo.value.code == "model_not_available"


def test_folder_without_config_is_refused(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"junk")
    with pytest.raises(ModelNotAvailable):
        check_available(ModelSpec(name="junk", kind=ENCODER, source=str(tmp_path)))


def test_hub_id_not_in_local_cache_is_refused_without_network(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelNotAvailable, match="not available"):
        check_available(ModelSpec(name="gpt2", kind=CAUSAL_LM, source="openai-community/gpt2"))


def test_packaged_encoder_loads_offline():
    loaded = load_model(ModelSpec(name="minilm", kind=ENCODER, source=str(minilm_path())))
    assert loaded.model.config.num_hidden_layers == 6
    assert loaded.model.config.num_attention_heads == 12
    assert loaded.describe()["load_seconds"] > 0
