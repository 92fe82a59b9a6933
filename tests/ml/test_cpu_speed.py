"""The two things that make the CPU engine fast: oneDNN's prepacked matrix products
(cpu_linear) and PyTorch work kept off long-lived helper threads (threads.py)."""

import asyncio
import threading

import pytest
import torch

from playground.ml import cpu_linear
from playground.ml.threads import in_fresh_thread


def test_the_loaded_model_uses_packed_products_that_agree_with_the_stock_layers(smollm2):
    from transformers import AutoModelForCausalLM

    if not cpu_linear.packing_available():
        pytest.skip("this PyTorch build has no oneDNN")
    assert smollm2.info["packed_linears"] == 211  # 30 layers x 7 projections + the output layer
    assert not any(isinstance(m, torch.nn.Linear) for m in smollm2.model.modules())
    stock = AutoModelForCausalLM.from_pretrained(smollm2.spec.source, dtype=torch.float32).eval()
    ids = smollm2.tokenizer("The capital of France is", return_tensors="pt").input_ids
    with torch.no_grad():
        packed_logits, stock_logits = smollm2.model(ids).logits, stock(ids).logits
    assert torch.allclose(packed_logits, stock_logits, atol=1e-3, rtol=1e-4)
    assert packed_logits[0, -1].argmax() == stock_logits[0, -1].argmax()


def test_packing_can_be_turned_off(monkeypatch):
    layer = torch.nn.Sequential(torch.nn.Linear(8, 4))
    monkeypatch.setenv("LLM_CPU_PACKED_LINEAR", "0")
    assert cpu_linear.pack_linears(layer) == 0 and isinstance(layer[0], torch.nn.Linear)
    monkeypatch.setenv("LLM_CPU_PACKED_LINEAR", "1")
    if not cpu_linear.packing_available():
        pytest.skip("this PyTorch build has no oneDNN")
    x = torch.randn(3, 5, 8)
    expected = layer(x)
    assert cpu_linear.pack_linears(layer) == 1 and isinstance(layer[0], cpu_linear.PackedLinear)
    assert torch.allclose(layer(x), expected, atol=1e-5)


def test_in_fresh_thread_returns_raises_and_leaves_no_thread_behind():
    seen = []

    def work(x):
        seen.append(threading.current_thread())
        if x < 0:
            raise ValueError("negative")
        return x * 2

    async def main():
        assert await in_fresh_thread(work, 21) == 42
        with pytest.raises(ValueError, match="negative"):
            await in_fresh_thread(work, -1)

    asyncio.run(main())
    assert len(seen) == 2 and seen[0] is not seen[1] and threading.main_thread() not in seen
    for thread in seen:
        thread.join(5)
        assert not thread.is_alive()


def test_packing_copies_the_weights_that_stay_so_the_checkpoint_mapping_can_go(monkeypatch):
    monkeypatch.setenv("LLM_CPU_PACKED_LINEAR", "1")
    if not cpu_linear.packing_available():
        pytest.skip("this PyTorch build has no oneDNN")
    model = torch.nn.Sequential(torch.nn.Embedding(10, 8), torch.nn.Linear(8, 4))
    before = model[0].weight.data_ptr()
    ids = torch.tensor([[1, 2, 3]])
    expected = model(ids)
    assert cpu_linear.pack_linears(model) == 1
    assert model[0].weight.data_ptr() != before  # no longer a view of what was loaded
    assert torch.allclose(model(ids), expected, atol=1e-5)
