"""The layer view and switch-offs served by the model worker: the numbers are the model's,
refusals are coded, and only the right people may look (fine-tunes: their owner only)."""

import json

import pytest
import torch
from asgiref.sync import sync_to_async

from accounts.models import Role
from playground.ml import lens
from playground.models import ModelEntry, ModelKind, PlaygroundRun, RunStatus
from playground.services import model_register_finetune
from tests.factories import make_team, make_user
from tests.playground.test_attention import client_for
from tests.playground.test_finetuned_models import make_adapter

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
MODEL = "smollm2-135m-instruct"
PARIS = "The capital of France is"
IT = "The animal didn't cross the street because it was too tired. The word \"it\" refers to the"


async def get(client, path, query):
    response = await client.get(path, query)
    return response.status_code, json.loads(response.content)


async def test_the_grid_is_the_models_own_lens_and_opens_on_every_layer(model_worker):
    client, _ = await client_for()
    loaded = model_worker.models[MODEL]
    status, body = await get(client, "/playground/lens/grid.json", {"model": MODEL, "text": PARIS, "token": " Paris"})
    assert status == 200, body
    ids = loaded.tokenizer(PARIS, add_special_tokens=False)["input_ids"]
    grid = lens.lens_grid(loaded.model, loaded.tokenizer, ids, pick=lens.token_id(loaded.tokenizer, " Paris"))
    assert body["ids"] == ids and body["layers"] == 30 and (body["from"], body["to"]) == (0, 29)
    assert body["top_ids"] == grid.top_ids.tolist()
    own = lens.output_probs(loaded.model, ids)[-1]
    assert abs(body["top_probs"][-1][-1][0] / body["scale"] - float(own.max())) <= 1 / body["scale"]
    assert body["vocab"][str(body["final_top"][-1])] == " Paris"
    assert body["pick"]["first_top"][-1] == grid.pick_first_top()[-1]
    # one layer on demand: a small payload
    status, one = await get(client, "/playground/lens/grid.json", {"model": MODEL, "text": PARIS, "from": 12, "to": 12})
    assert status == 200 and len(one["top_ids"]) == 1 and one["top_ids"][0] == grid.top_ids[12].tolist()
    assert "pick" not in one


async def test_switching_off_13_8_is_the_models_number(model_worker):
    client, _ = await client_for()
    loaded = model_worker.models[MODEL]
    query = {"model": MODEL, "text": IT, "token": " animal", "ablate": "13.8", "mode": "zero"}
    status, body = await get(client, "/playground/lens/ablate.json", query)
    assert status == 200, body
    ids = loaded.tokenizer(IT, add_special_tokens=False)["input_ids"]
    expected = lens.ablate(loaded.model, ids, [lens.Ablation(13, "head", 8)])
    animal = lens.token_id(loaded.tokenizer, " animal")
    assert body["ablated"] == ["13.8"] and body["position"] == len(ids) - 1
    assert body["pick"]["after"] == pytest.approx(float(expected.after[animal]), abs=1e-6)
    assert body["pick"]["before"] == pytest.approx(float(expected.before[animal]), abs=1e-6)
    assert body["pick"]["change"] != 0
    status, nothing = await get(client, "/playground/lens/ablate.json", {**query, "ablate": ""})
    assert status == 200 and nothing["pick"]["change"] == 0 and nothing["before"] == nothing["after"]


@pytest.mark.parametrize(("path", "params", "status", "code"), [
    ("grid.json", {"model": "minilm-l6-v2"}, 409, "lens_not_causal"),
    ("grid.json", {"text": "word " * 80}, 400, "lens_too_long"),
    ("grid.json", {"token": " antidisestablishment"}, 400, "not_one_token"),
    ("grid.json", {"from": 5, "to": 40}, 400, "bad_layer"),
    ("grid.json", {"model": "nope"}, 400, "unknown_model"),
    ("ablate.json", {"ablate": "13.9"}, 400, "bad_head"),
    ("ablate.json", {"ablate": "13.foo"}, 400, "bad_ablation"),
    ("ablate.json", {"ablate": "1.1", "mode": "half"}, 400, "bad_mode"),
    ("ablate.json", {"ablate": "1.1", "position": 99}, 400, "bad_position"),
])
async def test_bad_requests_get_a_coded_error_in_words(model_worker, path, params, status, code):
    client, _ = await client_for()
    got, body = await get(client, f"/playground/lens/{path}", {"model": MODEL, "text": PARIS, **params})
    assert (got, body["error"]["code"]) == (status, code), body
    assert body["error"]["message"] and body["error"]["message"] != code


async def test_an_endpoint_model_gets_a_page_that_says_why(registered_models):
    await ModelEntry.objects.acreate(name="big-endpoint", display_name="Big", kind=ModelKind.ENDPOINT,
                                     source="https://example.invalid/v1", enabled=True)
    client, _ = await client_for()
    response = await client.get("/playground/lens/", {"model": "big-endpoint", "text": PARIS})
    assert response.status_code == 409
    assert "inference endpoint" in response.content.decode()
    encoder = await client.get("/playground/lens/", {"model": "minilm-l6-v2", "text": PARIS})
    assert encoder.status_code == 409 and "encoder" in encoder.content.decode()
    status, body = await get(client, "/playground/lens/grid.json", {"model": "big-endpoint", "text": PARIS})
    assert (status, body["error"]["code"]) == (409, "lens_endpoint")


async def test_a_bare_visit_opens_on_the_example(registered_models):
    client, _ = await client_for()
    response = await client.get("/playground/lens/")
    assert response.status_code == 302 and "text=The+capital+of+France+is" in response.url


async def test_a_text_without_a_model_opens_on_the_default_model(registered_models):
    """A link that names only the text (a learner's own bookmark, say) gets the default model, not an error."""
    client, _ = await client_for()
    response = await client.get("/playground/lens/", {"text": "Two plus two is"})
    assert response.status_code == 302
    assert "model=smollm2-135m-instruct" in response.url and "text=Two+plus+two+is" in response.url
    assert "France" not in response.url


async def test_a_fine_tune_is_its_owners_and_stands_beside_the_base(model_worker, tmp_path):
    from transformers import AutoModelForCausalLM

    base = model_worker.models[MODEL]
    fresh = AutoModelForCausalLM.from_pretrained(base.spec.source, dtype=torch.float32).eval()
    await sync_to_async(make_adapter)(fresh, tmp_path / "adapter")
    team = await sync_to_async(make_team)()
    owner = await sync_to_async(make_user)(Role.EMPLOYEE, team=team)
    await sync_to_async(model_register_finetune)(owner=owner, name="lens-lora", display_name="Lens LoRA",
                                                 base_name=MODEL, adapter_path=str(tmp_path / "adapter"))
    client, _ = await client_for(owner)
    status, tuned = await get(client, "/playground/lens/grid.json", {"model": "lens-lora", "text": PARIS})
    assert status == 200, tuned
    _, plain = await get(client, "/playground/lens/grid.json", {"model": MODEL, "text": PARIS})
    assert tuned["top_ids"] != plain["top_ids"], "the adapter changes what the layers predict"
    page = await client.get("/playground/lens/", {"model": MODEL, "text": PARIS, "compare": "lens-lora"})
    assert page.status_code == 200 and b'data-compare="lens-lora"' in page.content

    stranger, _ = await client_for()
    status, body = await get(stranger, "/playground/lens/grid.json", {"model": "lens-lora", "text": PARIS})
    assert (status, body["error"]["code"]) == (400, "unknown_model")
    page = await stranger.get("/playground/lens/", {"model": MODEL, "text": PARIS, "compare": "lens-lora"})
    assert page.status_code == 400

    run = await PlaygroundRun.objects.acreate(user=owner, model_name="lens-lora", mode="completion", prompt=PARIS,
                                              params={}, status=RunStatus.DONE, tokens=[{"id": 7042}])
    status, _ = await get(client, "/playground/lens/grid.json", {"run": str(run.public_id)})
    assert status == 200
    manager, _ = await client_for(await sync_to_async(make_user)(Role.MANAGER, team=team))
    status, body = await get(manager, "/playground/lens/grid.json", {"run": str(run.public_id)})
    assert (status, body["error"]["code"]) == (403, "forbidden"), "a manager reads the run, not the fine-tune"
    status, beside = await get(manager, "/playground/lens/grid.json", {"run": str(run.public_id), "as": MODEL})
    assert status == 200 and beside["model"] == MODEL, "the run's tokens on the base model: the manager may"
    page = await client.get("/playground/lens/", {"run": str(run.public_id), "compare": MODEL})
    assert page.status_code == 200 and f"as={MODEL}".encode() in page.content
    status, body = await get(stranger, "/playground/lens/ablate.json", {"run": str(run.public_id), "ablate": "1.1"})
    assert (status, body["error"]["code"]) == (403, "forbidden")
