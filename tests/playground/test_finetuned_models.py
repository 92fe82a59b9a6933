"""Employees' fine-tuned models: registered by owner, loaded on demand, private to them."""

import pytest
import torch
from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError

from accounts.models import Role
from playground.ml.prompts import build_prompt
from playground.models import ModelEntry
from playground.services import model_register_finetune
from tests.factories import make_user
from tests.playground.helpers import MODEL, PROMPT, collect, connect, greedy_reference, login_cookie, start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def make_adapter(base_model, path):
    """A LoRA adapter with random (not zero) weights, so its outputs differ from the base."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    peft_model = get_peft_model(base_model, LoraConfig(r=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False,
                                                       lora_alpha=64))
    peft_model.save_pretrained(path)
    merged = peft_model.merge_and_unload()
    return merged


async def test_owner_streams_their_adapter_and_nobody_else_can(model_worker, tmp_path):
    from transformers import AutoModelForCausalLM

    base = model_worker.models[MODEL]
    fresh = AutoModelForCausalLM.from_pretrained(base.spec.source, dtype=torch.float32).eval()
    merged = await sync_to_async(make_adapter)(fresh, tmp_path / "adapter")
    cookie, owner = await login_cookie()
    entry = await sync_to_async(model_register_finetune)(
        owner=owner, name="my-lora", display_name="My LoRA", base_name=MODEL, adapter_path=str(tmp_path / "adapter"))
    assert entry.kind == "causal_lm" and entry.base.name == MODEL

    comm = await connect(cookie)
    await comm.send_json_to({"type": "start", "model": "my-lora", "mode": "completion", "prompt": PROMPT,
                             "params": {"temperature": 0, "max_new_tokens": 8}})
    _, tokens, done = await collect(comm, timeout=120)
    assert done["type"] == "done", done
    ids, _ = build_prompt(base.tokenizer, PROMPT, "completion", max_tokens=1024)
    with torch.no_grad():
        expected = merged.generate(torch.tensor([ids]), max_new_tokens=8, do_sample=False, eos_token_id=None)[0, len(ids):]
    got = [t["id"] for t in tokens]
    assert got == expected.tolist()[: len(got)]
    _, base_ids = greedy_reference(base, PROMPT, 8)
    assert got != base_ids[: len(got)], "the adapter should change the output"
    assert "my-lora" in model_worker.pool.on_demand
    await comm.disconnect()

    other_cookie, _ = await login_cookie(await sync_to_async(make_user)(Role.EMPLOYEE))
    other = await connect(other_cookie)
    await other.send_json_to({"type": "start", "model": "my-lora", "mode": "completion", "prompt": "Hi",
                              "params": {"max_new_tokens": 2}})
    error = await other.receive_json_from(timeout=30)
    assert error["type"] == "error" and error["code"] == "unknown_model"
    # The shared model still works for them.
    await start(other, max_new_tokens=2)
    _, _, done = await collect(other)
    assert done["type"] == "done"
    await other.disconnect()


@pytest.mark.django_db
def test_register_refuses_a_folder_without_an_adapter(tmp_path, registered_models):
    owner = make_user(Role.EMPLOYEE)
    with pytest.raises(ValidationError):
        model_register_finetune(owner=owner, name="ghost", display_name="Ghost", base_name=MODEL,
                                adapter_path=str(tmp_path))
    assert not ModelEntry.objects.filter(name="ghost").exists()
