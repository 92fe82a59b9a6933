"""choose_batch on small real logits: greedy, temperature, top-k, top-p, the repetition
penalty, seeds, and the probabilities it reports."""

import pytest
import torch

from playground.ml.sampling import SamplingParams, choose_batch

# Scores over a 6-token vocabulary; token 0 is the best, then 1, 2, ...
LOGITS = [3.0, 2.5, 1.0, 0.5, -1.0, -2.0]


def choose(params: list[SamplingParams], logits=None, seen=None, seeds=None):
    rows = torch.tensor(logits or [LOGITS] * len(params))
    generators = [torch.Generator().manual_seed(s) if s is not None else None for s in (seeds or [None] * len(params))]
    return choose_batch(rows, params, generators, seen, top=3)


def test_greedy_takes_the_best_token_and_reports_the_models_probabilities():
    choice = choose([SamplingParams(temperature=0)])
    probs = torch.softmax(torch.tensor(LOGITS), dim=-1)
    assert choice.tokens == [0]
    assert choice.p[0] == pytest.approx(float(probs[0]))
    assert choice.p_sample == [1.0]  # greedy puts all the mass on it
    assert choice.top_ids == [[0, 1, 2]]
    assert choice.top_p[0] == pytest.approx([float(p) for p in probs[:3]])


def test_top_k_one_and_a_tiny_top_p_are_greedy_whatever_the_temperature():
    draws = [choose([SamplingParams(temperature=2.0, top_k=1)], seeds=[s]).tokens[0] for s in range(20)]
    assert set(draws) == {0}
    draws = [choose([SamplingParams(temperature=2.0, top_k=0, top_p=0.01)], seeds=[s]).tokens[0] for s in range(20)]
    assert set(draws) == {0}


def test_top_k_keeps_k_tokens_and_p_sample_is_their_renormalised_probability():
    params = SamplingParams(temperature=1.0, top_k=2)
    draws = {choose([params], seeds=[s]).tokens[0] for s in range(200)}
    assert draws == {0, 1}  # both kept tokens come up; nothing outside the top 2 does
    choice = choose([params], seeds=[0])
    kept = torch.softmax(torch.tensor(LOGITS[:2]), dim=-1)
    assert choice.p_sample[0] == pytest.approx(float(kept[choice.tokens[0]]))


def test_top_p_keeps_the_smallest_set_reaching_p():
    probs = torch.softmax(torch.tensor(LOGITS), dim=-1)
    top_p = float(probs[0] + probs[1]) - 1e-4  # tokens 0 and 1 are needed to reach it, token 2 is not
    draws = {choose([SamplingParams(temperature=1.0, top_k=0, top_p=top_p)], seeds=[s]).tokens[0] for s in range(200)}
    assert draws == {0, 1}


def test_temperature_scales_the_scores_before_sampling():
    for temperature in (0.5, 5.0):
        choice = choose([SamplingParams(temperature=temperature, top_k=0)], seeds=[1])
        sampled = torch.softmax(torch.tensor(LOGITS) / temperature, dim=-1)
        assert choice.p_sample[0] == pytest.approx(float(sampled[choice.tokens[0]]))
        assert choice.p[0] == pytest.approx(float(torch.softmax(torch.tensor(LOGITS), dim=-1)[choice.tokens[0]]))
    # A hot row spreads its draws over more tokens than a cold one.
    cold = {choose([SamplingParams(temperature=0.2, top_k=0)], seeds=[s]).tokens[0] for s in range(100)}
    hot = {choose([SamplingParams(temperature=5.0, top_k=0)], seeds=[s]).tokens[0] for s in range(100)}
    assert len(hot) > len(cold)


def test_repetition_penalty_divides_a_seen_positive_score():
    seen = torch.zeros(1, len(LOGITS), dtype=torch.bool)
    seen[0, 0] = True  # token 0 is already in the text: 3.0 / 2 = 1.5 < 2.5
    assert choose([SamplingParams(temperature=0, repetition_penalty=2.0)], seen=seen).tokens == [1]
    assert choose([SamplingParams(temperature=0, repetition_penalty=1.0)], seen=seen).tokens == [0]
    # A negative score is multiplied, so it drops further: -1.0 * 4 < -2.0.
    logits = [[-1.0, -1.5, -2.0, -3.0, -4.0, -5.0]]
    assert choose([SamplingParams(temperature=0, repetition_penalty=4.0)], logits=logits, seen=seen).tokens == [1]


def test_a_seeded_row_draws_the_same_token_in_any_batch():
    params = SamplingParams(temperature=1.5, top_k=0, seed=7)
    alone = [choose([params], seeds=[seed]).tokens[0] for seed in range(30)]
    other = SamplingParams(temperature=0.9, top_k=3)
    batched = [choose([other, params, SamplingParams(temperature=0)], seeds=[None, seed, None]).tokens[1]
               for seed in range(30)]
    assert batched == alone
    assert len(set(alone)) > 1  # the seed matters: different seeds draw different tokens


def test_rows_keep_their_own_settings_in_one_batch():
    choice = choose([SamplingParams(temperature=0), SamplingParams(temperature=1.0, top_k=1),
                     SamplingParams(temperature=0, repetition_penalty=2.0)],
                    seen=torch.tensor([[True] + [False] * 5] * 3))
    assert choice.tokens == [0, 0, 1]  # only the third row applies its penalty
