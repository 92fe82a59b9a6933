"""The training child's pure parts: chat-formatted pairs with the prompt masked out of
the loss (with the real SmolLM2 tokenizer), and the learning-rate schedule."""

import copy

import pytest

from playground.ml.kinds import CAUSAL_LM
from training.ml.train import TrainConfig, encode_pairs, lr_at

IGNORE = -100  # the label the loss skips
ROW = {"prompt": "How many vacation days do I get?", "response": "Twenty-five days a year, plus public holidays."}


def split(ids, labels):
    """(prompt ids, answer ids) of one encoded pair, checking the mask is one block."""
    n_prompt = sum(label == IGNORE for label in labels)
    assert labels[:n_prompt] == [IGNORE] * n_prompt
    assert labels[n_prompt:] == ids[n_prompt:]  # every answer token is learnt, as itself
    return ids[:n_prompt], ids[n_prompt:]


def test_only_the_answer_is_learnt(smollm2_tokenizer):
    [(ids, labels)] = encode_pairs(smollm2_tokenizer, [ROW], seq_len=256)
    assert len(ids) == len(labels)
    prompt, answer = split(ids, labels)
    decode = smollm2_tokenizer.decode
    assert decode(prompt).endswith("<|im_start|>assistant\n")  # the prompt ends with the assistant header
    assert ROW["prompt"] in decode(prompt)
    assert decode(answer).strip() == ROW["response"] + "<|im_end|>"  # the answer, and the turn's end


def test_a_long_prompt_loses_its_start_not_the_answer(smollm2_tokenizer):
    row = {"prompt": "Please read this carefully. " * 40 + "What is the capital of France?", "response": "Paris."}
    [(full_ids, full_labels)] = encode_pairs(smollm2_tokenizer, [row], seq_len=1024)
    [(ids, labels)] = encode_pairs(smollm2_tokenizer, [row], seq_len=48)
    assert len(ids) == 48 < len(full_ids)
    prompt, answer = split(ids, labels)
    assert answer == split(full_ids, full_labels)[1]  # the whole answer survives
    assert ids == full_ids[-48:]  # what goes is the start of the prompt
    assert smollm2_tokenizer.decode(prompt).endswith("What is the capital of France?<|im_end|>\n<|im_start|>assistant\n")


def test_an_answer_longer_than_the_window_is_cut_at_its_end(smollm2_tokenizer):
    row = {"prompt": "Count.", "response": " ".join(str(n) for n in range(200))}
    [(ids, labels)] = encode_pairs(smollm2_tokenizer, [row], seq_len=40)
    prompt, answer = split(ids, labels)
    assert len(ids) == 40 and len(prompt) >= 8  # the last 8 prompt tokens (the header) always stay
    assert smollm2_tokenizer.decode(answer).startswith("0 1 2 3")


def test_without_a_chat_template_the_pair_is_plain_text_ending_in_eos(smollm2_tokenizer):
    plain = copy.deepcopy(smollm2_tokenizer)
    plain.chat_template = None
    [(ids, labels)] = encode_pairs(plain, [ROW], seq_len=256)
    prompt, answer = split(ids, labels)
    assert plain.decode(prompt) == ROW["prompt"] + "\n"
    assert answer[-1] == plain.eos_token_id
    assert plain.decode(answer[:-1]) == ROW["response"]


def config(**kwargs) -> TrainConfig:
    return TrainConfig(kind=CAUSAL_LM, base_path="unused", output_dir="unused", **kwargs)


def test_learning_rate_warms_up_linearly_then_decays_to_zero():
    cfg = config(steps=10, warmup_steps=2, learning_rate=1.0)
    rates = [lr_at(step, cfg) for step in range(cfg.steps + 1)]
    assert rates[:2] == [0.5, 1.0]  # warm-up: 1/2, 2/2 of the peak
    assert rates[2:] == pytest.approx([1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125, 0.0])
    assert max(rates) == cfg.learning_rate


def test_learning_rate_without_warm_up_starts_at_the_peak():
    cfg = config(steps=4, warmup_steps=0, learning_rate=3e-4)
    assert [lr_at(step, cfg) for step in range(5)] == pytest.approx([3e-4, 2.25e-4, 1.5e-4, 0.75e-4, 0.0])
    assert lr_at(7, cfg) == 0.0  # never negative past the end
