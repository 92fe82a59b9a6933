"""Registering an OpenAI-compatible endpoint on the Curation page, and what the rest of
the site does with it: the workers never load it, the health pages report it without
secrets."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.test import AsyncClient
from django.urls import reverse
from django.utils import translation

from accounts.models import Role
from playground.endpoints import EndpointConfig, EndpointError, read_api_key
from playground.models import ModelEndpoint, ModelEntry, ModelKind
from playground.selectors import endpoint_config, model_spec_by_name, model_specs_enabled
from playground.services import model_register_endpoint
from tests.factories import make_user
from tests.playground.helpers import close_orm_thread  # noqa: F401  (a fixture)
from tests.processes import free_port

FORM = {"form": "endpoint", "name": "big-model", "display_name": "Big model", "base_url": "http://gpu-7:8000/v1/",
        "served_model": "Qwen/Qwen2.5-7B-Instruct", "api_key_env": "VLLM_API_KEY", "api_key_file": "",
        "timeout_seconds": "30", "max_tokens": "512", "max_concurrency": "8", "supports_logprobs": "on",
        "supports_chat": "on", "tokenize_path": "/tokenize", "enabled": "on"}


@pytest.mark.django_db
def test_an_admin_registers_an_endpoint_and_no_key_is_stored(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("curation"), FORM)
    assert response.status_code == 302
    entry = ModelEntry.objects.get(name="big-model")
    assert entry.kind == ModelKind.ENDPOINT and entry.created_by == admin_user and entry.enabled
    assert entry.endpoint.base_url == "http://gpu-7:8000/v1" and entry.endpoint.api_key_env == "VLLM_API_KEY"
    config = endpoint_config(name="big-model")
    assert config.served_model == "Qwen/Qwen2.5-7B-Instruct" and config.tokenize_path == "/tokenize"
    # The model workers never try to load it; the list shows it with where its key comes from.
    assert "big-model" not in {s.name for s in model_specs_enabled()} and model_spec_by_name("big-model") is None
    page = client.get(reverse("curation")).content.decode()
    assert "Qwen/Qwen2.5-7B-Instruct" in page and "$VLLM_API_KEY" in page
    # It is registered, but the admin hears at once that it does not answer (no such host here).
    assert "does not work yet" in page and "the API key&#x27;s variable or file is not set" in page


@pytest.mark.django_db
@pytest.mark.parametrize(("change", "field", "words"), [
    ({"api_key_env": "sk-live-1234567890"}, "api_key_env", "never the key itself"),
    ({"api_key_file": "/run/secrets/key"}, "api_key_file", "not both"),
    ({"api_key_env": "", "api_key_file": "secrets/key"}, "api_key_file", "absolute path"),
    ({"tokenize_path": "tokenize"}, "tokenize_path", "starts with /"),
    ({"base_url": "not a url"}, "base_url", "Enter a URL such as"),
    ({"base_url": "http://admin:hunter2@gpu-7:8000/v1"}, "base_url", "Leave credentials out"),
    ({"timeout_seconds": "0"}, "timeout_seconds", "At least 1 second"),
])
def test_the_endpoint_form_says_what_is_wrong(client, admin_user, change, field, words):
    client.force_login(admin_user)
    response = client.post(reverse("curation"), {**FORM, **change})
    assert response.status_code == 200
    assert words in " ".join(response.context["endpoint_form"].errors[field])
    assert not ModelEntry.objects.filter(name="big-model").exists()


@pytest.mark.django_db
def test_the_endpoint_form_errors_come_in_chinese(client, admin_user):
    client.force_login(admin_user)
    client.cookies["django_language"] = "zh-hans"
    response = client.post(reverse("curation"), {**FORM, "api_key_env": "sk-live-1234567890"})
    assert "绝不是密钥本身" in " ".join(response.context["endpoint_form"].errors["api_key_env"])


@pytest.mark.django_db
def test_an_endpoint_cannot_take_the_name_of_a_local_model(admin_user):
    ModelEntry.objects.create(name="local", display_name="Local", kind=ModelKind.CAUSAL_LM, source="/x")
    with translation.override("en"), pytest.raises(ValidationError) as excinfo:
        model_register_endpoint(name="local", display_name="L", base_url="http://h/v1", served_model="m")
    assert "local weights" in excinfo.value.message_dict["name"][0]
    assert not ModelEndpoint.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.EMPLOYEE, Role.MANAGER])
def test_only_admins_register_endpoints(client, role):
    client.force_login(make_user(role))
    assert client.post(reverse("curation"), FORM).status_code == 403
    assert not ModelEntry.objects.filter(name="big-model").exists()


def test_the_key_comes_from_the_variable_or_the_file(tmp_path, monkeypatch):
    config = EndpointConfig(name="e", base_url="http://h/v1", served_model="m", api_key_env="LLM_TEST_K")
    monkeypatch.setenv("LLM_TEST_K", " secret-1\n")
    assert read_api_key(config) == "secret-1"
    monkeypatch.delenv("LLM_TEST_K")
    with pytest.raises(EndpointError) as excinfo:
        read_api_key(config)
    assert excinfo.value.code == "endpoint_no_key" and excinfo.value.params == {"where": "LLM_TEST_K"}
    secret = tmp_path / "key"
    secret.write_text("secret-2\n")
    assert read_api_key(EndpointConfig(name="e", base_url="http://h/v1", served_model="m",
                                       api_key_file=str(secret))) == "secret-2"
    assert read_api_key(EndpointConfig(name="e", base_url="http://h/v1", served_model="m")) is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_orm_thread")
async def test_health_reports_each_endpoints_state_without_secrets(monkeypatch):
    monkeypatch.setenv("LLM_TEST_HEALTH_KEY", "hunter2-secret")
    await sync_to_async(model_register_endpoint)(
        name="gone", display_name="Gone", base_url=f"http://127.0.0.1:{free_port()}/v1", served_model="m",
        api_key_env="LLM_TEST_HEALTH_KEY")
    public = (await AsyncClient().get("/healthz")).content.decode()
    assert json.loads(public)["endpoints"] == {"ok": False, "count": 1, "states": {"down": 1}}
    assert "gone" not in public and "127.0.0.1" not in public
    admin = AsyncClient()
    await sync_to_async(admin.force_login)(await sync_to_async(make_user)(Role.ADMIN))
    detail = (await admin.get("/health/")).content.decode()
    (endpoint,) = json.loads(detail)["endpoints"]["endpoints"]
    assert endpoint["name"] == "gone" and endpoint["state"] == "down"
    assert "hunter2" not in detail and "hunter2" not in public


@pytest.mark.django_db
def test_the_compare_page_puts_smollm2_beside_an_endpoint_model(client, employee):
    ModelEntry.objects.create(name="smollm2-135m-instruct", display_name="SmolLM2", kind=ModelKind.CAUSAL_LM,
                              source="/x", is_builtin=True)
    model_register_endpoint(name="big-model", display_name="Big model", base_url="http://gpu-7:8000/v1",
                            served_model="qwen")
    client.force_login(employee)
    page = client.get(reverse("playground:compare"))
    assert page.context["chosen"] == {"a": "smollm2-135m-instruct", "b": "big-model"}
    # A model the employee may not use is never preselected.
    page = client.get(reverse("playground:compare"), {"a": "ft-1-someone-else", "b": "smollm2-135m-instruct"})
    assert page.context["chosen"] == {"a": "smollm2-135m-instruct", "b": "smollm2-135m-instruct"}


@pytest.mark.django_db
def test_attention_says_why_an_endpoint_model_has_none(client, employee):
    model_register_endpoint(name="big-model", display_name="Big model", base_url="http://gpu-7:8000/v1",
                            served_model="qwen")
    client.force_login(employee)
    client.cookies["django_language"] = "zh-hans"
    response = client.get(reverse("playground:attention_data"), {"model": "big-model", "text": "你好", "layer": "0"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "endpoint_no_attention" and "权重" in error["message"]


@pytest.mark.django_db
def test_a_lesson_link_puts_the_learners_own_newest_fine_tune_beside_the_model(client, employee):
    """`?b=mine` (a lesson's compare Try it) is the viewer's newest fine-tune, never a
    colleague's; with none, model B is another model and the page says how to train one.
    The prompt and mode come from the link."""
    base = ModelEntry.objects.create(name="smollm2-135m-instruct", display_name="SmolLM2",
                                     kind=ModelKind.CAUSAL_LM, source="/x", is_builtin=True)
    colleague = make_user(Role.EMPLOYEE)
    ModelEntry.objects.create(name="ft-9-colleague", display_name="Theirs", kind=ModelKind.CAUSAL_LM,
                              source="/x", owner=colleague, base=base)
    client.force_login(employee)
    link = {"a": "smollm2-135m-instruct", "b": "mine", "mode": "completion", "prompt": "How many days of leave?"}
    page = client.get(reverse("playground:compare"), link)
    assert page.context["chosen"]["b"] != "ft-9-colleague" and page.context["no_finetune"]
    html = page.content.decode()
    assert "You have no fine-tuned model yet" in html and "How many days of leave?</textarea>" in html
    assert '<option value="completion" selected>' in html
    for n in (1, 2):
        ModelEntry.objects.create(name=f"ft-{n}-mine", display_name=f"Mine {n}", kind=ModelKind.CAUSAL_LM,
                                  source="/x", owner=employee, base=base)
    page = client.get(reverse("playground:compare"), link)
    assert page.context["chosen"] == {"a": "smollm2-135m-instruct", "b": "ft-2-mine"}
    assert not page.context["no_finetune"]
