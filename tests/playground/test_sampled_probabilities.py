"""Each alternative's probability in the distribution actually sampled (`q`), next to the
model's own (`p`), against the real default model over the playground socket."""

import pytest

from tests.playground.helpers import collect, connect, login_cookie, start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


async def first_token(comm, **params):
    await start(comm, max_new_tokens=1, seed=42, **params)
    _, tokens, done = await collect(comm)
    assert done["type"] == "done", done
    return tokens[0]


async def test_temperature_changes_the_sampled_probabilities_not_the_model_ones(model_worker):
    cookie, _ = await login_cookie()
    comm = await connect(cookie)
    cold = await first_token(comm, temperature=0.2, top_k=0)
    hot = await first_token(comm, temperature=1.5, top_k=0)
    await comm.disconnect()
    # The model's own probabilities do not depend on the sampling controls.
    assert [a["id"] for a in cold["top"]] == [a["id"] for a in hot["top"]]
    assert [a["p"] for a in cold["top"]] == pytest.approx([a["p"] for a in hot["top"]], abs=1e-6)
    p = [a["p"] for a in cold["top"]]
    for token, temperature in ((cold, 0.2), (hot, 1.5)):
        q = [a["q"] for a in token["top"]]
        assert all(0 < x <= 1 for x in q) and sum(q) <= 1 + 1e-6
        # softmax(logits / T): the ratio of two tokens' q is the ratio of their p to the power 1/T.
        for i in range(1, 5):
            assert q[0] / q[i] == pytest.approx((p[0] / p[i]) ** (1 / temperature), rel=2e-2)
    cold_q, hot_q = [a["q"] for a in cold["top"]], [a["q"] for a in hot["top"]]
    # A low temperature sharpens the favourite; a high one flattens the distribution.
    assert cold_q[0] > p[0] > hot_q[0]
    assert sum(cold_q) > sum(hot_q)
    assert cold_q != pytest.approx(hot_q, abs=1e-3)


async def test_tokens_outside_the_nucleus_have_q_zero(model_worker):
    cookie, _ = await login_cookie()
    comm = await connect(cookie)
    plain = await first_token(comm, temperature=1.0, top_k=0, top_p=1.0)
    p = [a["p"] for a in plain["top"]]
    assert [a["q"] for a in plain["top"]] == pytest.approx(p, abs=1e-5)  # nothing filtered: q = p
    # A nucleus that holds the first two alternatives and not the third.
    top_p = p[0] + p[1] / 2
    nucleus = await first_token(comm, temperature=1.0, top_k=0, top_p=top_p)
    await comm.disconnect()
    assert [a["p"] for a in nucleus["top"]] == pytest.approx(p, abs=1e-6)
    q = [a["q"] for a in nucleus["top"]]
    assert q[0] == pytest.approx(p[0] / (p[0] + p[1]), rel=1e-3)
    assert q[1] == pytest.approx(p[1] / (p[0] + p[1]), rel=1e-3)
    assert q[2:] == [0, 0, 0]
    assert nucleus["id"] in {nucleus["top"][0]["id"], nucleus["top"][1]["id"]}
    assert nucleus["p_sample"] == pytest.approx(q[0] if nucleus["id"] == nucleus["top"][0]["id"] else q[1], rel=1e-6)


async def test_top_k_filters_the_rest_and_greedy_puts_all_mass_on_one(model_worker):
    cookie, _ = await login_cookie()
    comm = await connect(cookie)
    top2 = await first_token(comm, temperature=1.0, top_k=2)
    greedy = await first_token(comm, temperature=0)
    await comm.disconnect()
    p = [a["p"] for a in top2["top"]]
    assert [a["q"] for a in top2["top"]] == pytest.approx([p[0] / (p[0] + p[1]), p[1] / (p[0] + p[1]), 0, 0, 0],
                                                          rel=1e-3)
    assert [a["q"] for a in greedy["top"]] == [1, 0, 0, 0, 0]
    assert greedy["id"] == greedy["top"][0]["id"]
