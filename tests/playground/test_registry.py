import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from playground.models import ModelEntry
from playground.services import model_register


@pytest.mark.django_db
def test_defaults_are_provisioned_and_registered(registered_models):
    names = {e.name: e for e in ModelEntry.objects.all()}
    assert set(names) == {"smollm2-135m-instruct", "minilm-l6-v2"}
    assert names["smollm2-135m-instruct"].kind == "causal_lm"
    assert names["minilm-l6-v2"].kind == "encoder"


@pytest.mark.django_db
def test_register_refuses_a_path_without_weights(tmp_path):
    with pytest.raises(ValidationError) as excinfo:
        model_register(name="nope", display_name="Nope", kind="causal_lm", source=str(tmp_path))
    assert "provision_models" in excinfo.value.message_dict["source"][0]
    assert not ModelEntry.objects.filter(name="nope").exists()


@pytest.mark.django_db
def test_admin_adds_a_model_by_local_path(client, admin_user, registered_models):
    client.force_login(admin_user)
    source = registered_models[1].source  # a real folder with config.json
    response = client.post(
        reverse("curation"),
        {"name": "minilm-copy", "display_name": "MiniLM copy", "kind": "encoder", "source": source, "enabled": "on"},
    )
    assert response.status_code == 302
    entry = ModelEntry.objects.get(name="minilm-copy")
    assert entry.created_by == admin_user and entry.enabled


@pytest.mark.django_db
def test_admin_form_shows_the_missing_model_error(client, admin_user, tmp_path):
    client.force_login(admin_user)
    response = client.post(
        reverse("curation"),
        {"name": "bad", "display_name": "Bad", "kind": "encoder", "source": str(tmp_path / "missing")},
    )
    assert response.status_code == 200
    assert "is not available" in response.content.decode()
    assert not ModelEntry.objects.filter(name="bad").exists()
