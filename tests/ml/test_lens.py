"""The logit lens and ablation (playground/ml/lens.py) against the real SmolLM2, as the
worker serves it (oneDNN-packed linears on the CPU) and as transformers loads it plain."""

import copy

import pytest
import torch

from playground.ml import lens

pytestmark = pytest.mark.slow  # a few forward passes of the real model

PROMPT = "The capital of France is"
IT_PROMPT = "The animal didn't cross the street because it was too tired. The word \"it\" refers to the"


@pytest.fixture(scope="module")
def ids(smollm2):
    return smollm2.tokenizer(PROMPT, add_special_tokens=False)["input_ids"]


@pytest.fixture(scope="module")
def plain(smollm2):
    """The same weights as ordinary nn.Linear layers (the served model's are packed)."""
    from transformers import AutoModelForCausalLM

    from tests.ml.conftest import smollm2_path

    return AutoModelForCausalLM.from_pretrained(smollm2_path(), dtype=torch.float32).eval()


def test_the_served_model_is_packed(smollm2):
    # Otherwise the tests below would not cover the model the worker actually runs.
    assert smollm2.info["packed_linears"] > 0


def test_last_lens_row_is_the_models_own_output(smollm2, ids):
    own = lens.output_probs(smollm2.model, ids)  # (T, V)
    last = lens.lens_probs(smollm2.model, ids, smollm2.model.config.num_hidden_layers - 1)
    assert (last - own).abs().max() < 1e-5
    grid = lens.lens_grid(smollm2.model, smollm2.tokenizer, ids)
    top = torch.topk(own, 5, dim=-1)
    assert torch.equal(grid.top_ids[-1], top.indices)
    assert (grid.top_probs[-1] - top.values).abs().max() < 1e-5
    assert smollm2.tokenizer.decode(grid.final_top()[-1:]) == " Paris"


@pytest.mark.parametrize("model_name", ["served", "plain"])
def test_every_row_is_the_final_norm_and_head_on_output_hidden_states(smollm2, plain, ids, model_name):
    model = smollm2.model if model_name == "served" else plain
    with torch.no_grad():
        out = model(torch.tensor([ids]), output_hidden_states=True)
    states = out.hidden_states  # embeddings, then each layer's output (the last already normed)
    layers = model.config.num_hidden_layers
    assert len(states) == layers + 1
    # The grid sends 256 rows through the head at once, this test 5: GEMM kernels (MKL's and
    # oneDNN's alike) add in an order that depends on the row count, so logits differ by ~1e-5.
    tolerance = 5e-5
    grid = lens.lens_grid(model, smollm2.tokenizer, ids, pick=smollm2.tokenizer(" Paris")["input_ids"][0])
    ours = lens.hidden_states(model, ids)  # (layers, T, D), normed
    for layer in range(layers):
        h = states[layer + 1][0]
        normed = h if layer == layers - 1 else model.model.norm(h)
        with torch.no_grad():
            probs = torch.softmax(model.lm_head(normed), dim=-1)  # (T, V)
        assert (ours[layer] - normed).abs().max() < 1e-5, layer
        top = torch.topk(probs, 5, dim=-1)
        assert torch.equal(grid.top_ids[layer], top.indices), layer
        assert (grid.top_probs[layer] - top.values).abs().max() < tolerance, layer
        paris = grid.pick["id"]
        assert (grid.pick["probs"][layer] - probs[:, paris]).abs().max() < tolerance
        assert grid.pick["ranks"][layer].tolist() == [int((row > row[paris]).sum()) + 1 for row in probs]


def test_first_top_is_the_first_layer_with_the_final_answer(smollm2, ids):
    grid = lens.lens_grid(smollm2.model, smollm2.tokenizer, ids)
    for position, first in enumerate(grid.first_top()):
        winners = grid.top_ids[:, position, 0]
        assert winners[first] == winners[-1]
        assert all(winners[layer] != winners[-1] for layer in range(first))


def test_payload_is_quantised_and_sliced_by_layer(smollm2, ids):
    grid = lens.lens_grid(smollm2.model, smollm2.tokenizer, ids, pick=lens.token_id(smollm2.tokenizer, " Paris"))
    payload = grid.payload(smollm2.tokenizer, 10, 12)
    assert (payload["from"], payload["to"], len(payload["top_ids"])) == (10, 12, 3)
    assert all(isinstance(p, int) for p in payload["top_probs"][0][0])
    decoded = torch.tensor(payload["top_probs"]) / lens.PROB_SCALE
    assert (decoded - grid.top_probs[10:13]).abs().max() <= 0.5 / lens.PROB_SCALE + 1e-7
    assert payload["vocab"][str(payload["final_top"][-1])] == " Paris"
    assert len(payload["pick"]["ranks"]) == 3 and payload["pick"]["first_top"][-1] is not None


def test_a_picked_text_must_be_one_token(smollm2):
    with pytest.raises(lens.LensRequestError) as refused:
        lens.token_id(smollm2.tokenizer, " antidisestablishment")
    assert refused.value.code == "not_one_token"


def test_ablating_nothing_changes_nothing(smollm2):
    ids = smollm2.tokenizer(IT_PROMPT, add_special_tokens=False)["input_ids"]
    result = lens.ablate(smollm2.model, ids, [])
    assert torch.equal(result.before, result.after)
    with lens.ablated(smollm2.model, []):
        assert torch.equal(lens.output_probs(smollm2.model, ids), lens.output_probs(smollm2.model, ids))


def _head_removed_by_hook(model, layer: int, head: int):
    """A forward hook on the attention module that subtracts head `head`'s term from its output:
    o_proj(x) = sum_h W[:, h] x_h, so the term is x_h W[:, h]^T, read from o_proj's input."""
    attention = model.model.layers[layer].self_attn
    d = model.config.head_dim
    weight = attention.o_proj.weight[:, head * d:(head + 1) * d]  # (D, head_dim)
    seen = {}
    handles = [
        attention.o_proj.register_forward_pre_hook(lambda module, args: seen.update(x=args[0])),
        attention.register_forward_hook(
            lambda module, args, output: (output[0] - seen["x"][..., head * d:(head + 1) * d] @ weight.T,
                                          *output[1:])),
    ]
    return handles


def test_an_ablated_head_contribution_is_exactly_removed(smollm2, plain):
    ids = smollm2.tokenizer(IT_PROMPT, add_special_tokens=False)["input_ids"]
    ablations = lens.parse_ablations("13.8", layers=30, heads=9)
    assert ablations == [lens.Ablation(13, "head", 8)]
    ours = lens.ablate(plain, ids, ablations)
    # 1. a hook that takes the head's term out of the attention output
    handles = _head_removed_by_hook(plain, 13, 8)
    try:
        hooked = lens.output_probs(plain, ids, last_only=True)[0]
    finally:
        for handle in handles:
            handle.remove()
    assert (ours.after - hooked).abs().max() < 1e-5
    # 2. the model with that head's columns of o_proj set to zero
    surgery = copy.deepcopy(plain)
    with torch.no_grad():
        surgery.model.layers[13].self_attn.o_proj.weight[:, 8 * 64:9 * 64] = 0
    assert (ours.after - lens.output_probs(surgery, ids, last_only=True)[0]).abs().max() < 1e-5
    # the hooks are gone, and the head mattered
    assert torch.equal(lens.output_probs(plain, ids, last_only=True)[0], ours.before)
    assert (ours.after - ours.before).abs().max() > 1e-3
    # the served (packed) model gives the same numbers
    served = lens.ablate(smollm2.model, ids, ablations)
    assert (served.after - ours.after).abs().max() < 1e-4


def test_a_whole_sublayer_switched_off(smollm2, plain):
    ids = smollm2.tokenizer(IT_PROMPT, add_special_tokens=False)["input_ids"]
    surgery = copy.deepcopy(plain)
    with torch.no_grad():
        surgery.model.layers[5].mlp.down_proj.weight.zero_()  # the MLP adds nothing
        surgery.model.layers[7].self_attn.o_proj.weight.zero_()  # the attention adds nothing
    ours = lens.ablate(plain, ids, lens.parse_ablations("5.mlp, 7.attn", layers=30, heads=9))
    assert (ours.after - lens.output_probs(surgery, ids, last_only=True)[0]).abs().max() < 1e-5
    mean = lens.ablate(plain, ids, lens.parse_ablations("5.mlp", layers=30, heads=9), mode="mean")
    assert (mean.after - ours.after).abs().max() > 1e-4  # mean is not zero


def test_hooks_act_only_in_their_own_thread(smollm2):
    import threading

    ids = smollm2.tokenizer(IT_PROMPT, add_special_tokens=False)["input_ids"]
    clean = lens.output_probs(smollm2.model, ids)[-1]
    seen = {}
    with lens.ablated(smollm2.model, lens.parse_ablations("13.8 13.mlp", layers=30, heads=9)):
        thread = threading.Thread(target=lambda: seen.update(p=lens.output_probs(smollm2.model, ids)[-1]))
        thread.start()
        thread.join()
    assert torch.equal(seen["p"], clean)


@pytest.mark.parametrize(("spec", "code"), [("13.9", "bad_head"), ("30.1", "bad_layer"), ("13.x", "bad_ablation")])
def test_bad_ablations_are_refused_with_a_code(spec, code):
    with pytest.raises(lens.LensRequestError) as refused:
        lens.parse_ablations(spec, layers=30, heads=9)
    assert refused.value.code == code
