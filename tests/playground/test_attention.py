"""Attention data served to the heatmap: correct, compact, and only for the right people."""

import base64
import json

import numpy as np
import pytest
import torch
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from accounts.models import Role
from playground.models import PlaygroundRun, RunStatus
from tests.factories import make_team, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
SENTENCE = "The animal didn't cross the street because it was too tired."


async def client_for(user=None):
    client = AsyncClient()
    user = user or await sync_to_async(make_user)(Role.EMPLOYEE)
    await client.aforce_login(user)
    return client, user


def decode(body):
    heads, t, _ = body["shape"]
    return np.frombuffer(base64.b64decode(body["data"]), dtype=np.uint8).reshape(heads, t, t) / 255.0


def reference(loaded, ids):
    from transformers import AutoModel, AutoModelForCausalLM

    cls = AutoModelForCausalLM if loaded.spec.kind == "causal_lm" else AutoModel
    model = cls.from_pretrained(loaded.spec.source, attn_implementation="eager", dtype=torch.float32).eval()
    with torch.no_grad():
        return [a[0].numpy() for a in model(torch.tensor([ids]), output_attentions=True).attentions]


@pytest.mark.parametrize("model", ["smollm2-135m-instruct", "minilm-l6-v2"])
async def test_weights_equal_output_attentions(model_worker, model):
    client, _ = await client_for()
    loaded = model_worker.models[model]
    ids = loaded.tokenizer(SENTENCE, add_special_tokens=model == "minilm-l6-v2")["input_ids"]
    expected = reference(loaded, ids)
    for layer in (0, len(expected) - 1):
        response = await client.get("/playground/attention/layer.json", {"model": model, "text": SENTENCE, "layer": layer})
        assert response.status_code == 200, response.content
        body = json.loads(response.content)
        assert body["ids"] == ids and body["layers"] == len(expected)
        got = decode(body)
        assert got.shape == expected[layer].shape
        assert np.abs(got - expected[layer]).max() <= 1 / 510 + 1e-6  # uint8 rounding
        t = len(ids)
        assert np.allclose(got.sum(axis=-1), 1.0, atol=t / 510)
        if model == "smollm2-135m-instruct":
            assert np.all(np.triu(got, k=1) == 0), "a decoder never attends to later tokens"


async def test_one_head_at_a_time_and_first_layer_payload_is_small(model_worker):
    client, _ = await client_for()
    text = " ".join(["word"] * 64)
    ids = model_worker.models["smollm2-135m-instruct"].tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == 64
    full = await client.get("/playground/attention/layer.json", {"model": "smollm2-135m-instruct", "text": text, "layer": 0})
    assert len(full.content) <= 256 * 1024
    one = await client.get("/playground/attention/layer.json", {"model": "smollm2-135m-instruct", "text": text,
                                                                 "layer": 0, "head": 3})
    body = json.loads(one.content)
    assert body["shape"] == [1, 64, 64] and body["head"] == 3
    assert np.array_equal(decode(body)[0], decode(json.loads(full.content))[3])


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"layer": 30}, 400, "bad_layer"),
        ({"layer": -1}, 400, "bad_layer"),
        ({"layer": "x"}, 400, "bad_request"),
        ({"head": 9}, 400, "bad_head"),
        ({"text": "word " * 300}, 400, "too_long"),
        ({"model": "nope"}, 400, "unknown_model"),
        ({"text": "  "}, 400, "bad_request"),
    ],
)
async def test_bad_input_gets_a_clear_error(model_worker, params, status, code):
    client, _ = await client_for()
    query = {"model": "smollm2-135m-instruct", "text": SENTENCE, "layer": 0, **params}
    response = await client.get("/playground/attention/layer.json", query)
    body = json.loads(response.content)
    assert response.status_code == status and body["error"]["code"] == code, body
    assert body["error"]["message"]


async def test_a_run_is_visible_to_its_owner_and_manager_only(model_worker):
    team = await sync_to_async(make_team)()
    owner = await sync_to_async(make_user)(Role.EMPLOYEE, team=team)
    ids = model_worker.models["smollm2-135m-instruct"].tokenizer(" Paris.", add_special_tokens=False)["input_ids"]
    run = await PlaygroundRun.objects.acreate(
        user=owner, model_name="smollm2-135m-instruct", mode="completion", prompt="The capital of France is",
        params={}, status=RunStatus.DONE, tokens=[{"id": i} for i in ids])
    query = {"run": str(run.public_id), "layer": 2}
    client, _ = await client_for(owner)
    body = json.loads((await client.get("/playground/attention/layer.json", query)).content)
    assert body["shape"][1] == 5 + len(ids)  # prompt tokens + generated tokens
    manager_client, _ = await client_for(await sync_to_async(make_user)(Role.MANAGER, team=team))
    assert (await manager_client.get("/playground/attention/layer.json", query)).status_code == 200
    stranger, _ = await client_for()
    response = await stranger.get("/playground/attention/layer.json", query)
    assert response.status_code == 403
    assert json.loads(response.content)["error"]["code"] == "forbidden"
    script = await stranger.get("/playground/attention/bertviz-head.js", query)
    assert script.status_code == 403 and b"belongs to someone else" in script.content


async def test_bertviz_script_has_no_third_party_urls(model_worker):
    client, _ = await client_for()
    for view in ("head", "model"):
        response = await client.get(f"/playground/attention/bertviz-{view}.js",
                                    {"model": "minilm-l6-v2", "text": "Attention is all you need."})
        js = response.content.decode()
        assert response.status_code == 200 and response["Content-Type"].startswith("text/javascript")
        assert "cdnjs" not in js and "https://" not in js
        assert "/static/vendor/bertviz/d3.min" in js and 'style="' not in js
    too_long = await client.get("/playground/attention/bertviz-model.js",
                                {"model": "minilm-l6-v2", "text": "word " * 60})
    assert too_long.status_code == 400 and b"model view shows at most" in too_long.content


async def test_a_bare_visit_shows_the_example_at_once(registered_models):
    client, _ = await client_for()
    response = await client.get("/playground/attention/", {"view": "head"})
    assert response.status_code == 302
    assert response.url.startswith("/playground/attention/?view=head&model=minilm-l6-v2&text=The+animal")
    page = (await client.get(response.url)).content.decode()
    assert 'id="attention"' in page and "bertviz-head.js?" in page
    # An emptied text is an error to fix, not a redirect back to the example.
    page = (await client.get("/playground/attention/", {"model": "minilm-l6-v2", "text": ""})).content.decode()
    assert "Type a text, or open a saved run." in page and 'id="attention"' not in page
    client.cookies["django_language"] = "zh-hans"
    page = (await client.get("/playground/attention/", {"model": "minilm-l6-v2", "text": ""})).content.decode()
    assert "请输入文本，或打开一次已保存的运行。" in page
