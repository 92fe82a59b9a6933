"""The numbers that lessons 15-17 (post-training, evaluating applications, the tokenizer lab)
state about the playground's models, recomputed from the real models and tokenizers; the
tokenizer lab's BPE merges, recomputed with the same rules as its in-page trainer
(static/js/bpe-lab.js; tests/e2e/test_bpe_lab.py runs the widget itself); and the worked
example of lesson 16 against the recorded fine-tunes in data/faq_finetune_runs.json."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import regex
import torch

from tests.courseapp.test_model_checked_questions import COURSE, _question, _tryit_prompt, lm, minilm_tokenizer  # noqa: F401

LESSONS = COURSE / "lessons"
RUNS = json.loads((Path(__file__).parent / "data/faq_finetune_runs.json").read_text(encoding="utf-8"))
LAB = "17-tokenizer-lab"


def _texts(lesson: str) -> dict[str, str]:
    return {lang: (LESSONS / lesson / f"{lang}.md").read_text(encoding="utf-8") for lang in ("en", "zh-Hans")}


def _pct(p: float) -> str:
    return f"{100 * p:.1f}%"


# --- the tokenizer lab's BPE (the same rules as static/js/bpe-lab.js) -----------------------

PIECE = regex.compile(r"[\p{L}\p{N}]+|[^\s\p{L}\p{N}]")


def bpe_train(text: str, merges: int) -> tuple[list[tuple[str, str, int]], list[list[str]], int]:
    """(merges as (left, right, count), the words as symbols after them, the starting vocabulary size)."""
    words = [list(w) for w in PIECE.findall(text)]
    start = len({c for w in words for c in w})
    done = []
    for _ in range(merges):
        counts: dict[tuple[str, str], int] = {}  # insertion order = first occurrence
        for w in words:
            for pair in zip(w, w[1:], strict=False):
                counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            break
        best = max(counts, key=counts.get)  # max keeps the first of equal counts
        done.append((*best, counts[best]))
        merged = []
        for w in words:
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            merged.append(out)
        words = merged
    return done, words, start


def lab_paragraph() -> str:
    return re.search(r"^```bpe-lab\n(.+?)\n```$", _texts(LAB)["en"], flags=re.M | re.S).group(1)


def test_bpe_reference_breaks_ties_by_first_occurrence():
    merges, words, start = bpe_train("ab cd ab cd", 1)
    assert merges == [("a", "b", 2)] and start == 4 and words == [["ab"], ["c", "d"], ["ab"], ["c", "d"]]


def test_tokenizer_lab_merges_match_its_text_and_quiz():
    paragraph = lab_paragraph()
    assert f"```bpe-lab\n{paragraph}\n```" in _texts(LAB)["zh-Hans"], "both languages train on the same paragraph"
    tokens = lambda n: sum(len(w) for w in bpe_train(paragraph, n)[1])  # noqa: E731
    merges, _, start = bpe_train(paragraph, 10)
    en, zh = _texts(LAB)["en"], _texts(LAB)["zh-Hans"]
    assert f"the vocabulary is the {start} distinct characters, and the text is {tokens(0)} tokens" in en
    assert f"开始时词表是 {start} 个不同的字符，文本有 {tokens(0)} 个词元" in zh
    (a, t, n1), (t2, h, n2), (th, e, n3) = merges[:3]
    assert f"The first merge is `{a}` + `{t}`, which occurs {n1} times" in en and f"The text drops to {tokens(1)} tokens" in en
    assert f"Then `{t2}` + `{h}` ({n2} times), then `{th}` + `{e}` ({n3} times" in en
    assert f"After three merges the vocabulary has {start + 3} symbols and the text is {tokens(3)} tokens" in en
    assert f"after 10 merges it has {start + 10}, and the text is {tokens(10)} tokens" in en
    assert f"第一次合并是 `{a}` + `{t}`，它出现了 {n1} 次" in zh and f"文本降到 {tokens(1)} 个词元" in zh
    assert f"三次合并后，词表有 {start + 3} 个符号，文本有 {tokens(3)} 个词元" in zh
    assert f"10 次合并后词表有 {start + 10} 个符号，文本有 {tokens(10)} 个词元" in zh
    quiz = "lessons/17-tokenizer-lab/quiz.yaml"
    first = _question(quiz, "q2-first-merge")
    assert paragraph in first["prompt"]["en"]
    assert [c["text"]["en"] for c in first["choices"] if c["correct"]] == [f"{a} + {t} → {a}{t}, {n1} times"]
    assert _question(quiz, "q3-tokens-after-three")["answer"] == tokens(3)
    vocab = _question(quiz, "q4-vocab-growth")
    assert f"vocabulary of {start} characters and learns 10 merges" in vocab["prompt"]["en"]
    assert [c["text"]["en"] for c in vocab["choices"] if c["correct"]] == [str(start + 10)]


@pytest.mark.slow
def test_tokenizer_lab_table_matches_the_real_tokenizers(lm):  # noqa: F811
    minilm = minilm_tokenizer()
    for lang, text in _texts(LAB).items():
        rows = re.findall(r"^\| (.+?) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|$", text, flags=re.M)
        assert len(rows) == 4, lang
        for sentence, characters, smol, mini, unk in rows:
            pieces = minilm.tokenize(sentence)
            assert (len(sentence), len(lm.ids(sentence)), len(pieces), pieces.count("[UNK]")) == (
                int(characters), int(smol), int(mini), int(unk)), sentence
    leave = _quoted_prompt("q5-smollm2-leave-tokens")
    whole = [p for p in (lm.tokenizer.decode([i]) for i in lm.ids(leave)) if "\ufffd" not in p]
    assert _question("lessons/17-tokenizer-lab/quiz.yaml", "q5-smollm2-leave-tokens")["answer"] == len(lm.ids(leave))
    assert f"only {len(whole)} are whole characters ({whole[0]} and {whole[1]})" in _texts(LAB)["en"]
    assert f"只有 {len(whole)} 个是完整的字（{whole[0]}和{whole[1]}）" in _texts(LAB)["zh-Hans"]
    assert f"SmolLM2's {len(lm.ids(leave))} tokens" in _texts(LAB)["en"] and _tryit_prompt(LAB, "The leave question through SmolLM2's tokenizer") == leave
    assert minilm.tokenize("tokens") == ["token", "##s"] and minilm.tokenize("Large") == ["large"]
    assert lm.tokenizer.tokenize("Large tokens") == ["Large", "Ġtokens"]
    assert len(minilm) == 30522 and len(lm.tokenizer) == 49152


def _quoted_prompt(slug: str) -> str:
    return re.findall(r'"([^"]+)"', _question("lessons/17-tokenizer-lab/quiz.yaml", slug)["prompt"]["en"])[0]


# --- lesson 15: post-training ---------------------------------------------------------------


@pytest.mark.slow
def test_post_training_lesson_numbers(lm):  # noqa: F811
    question = "What is the capital of France?"
    probs = lm.next_probs(question)
    im_end = lm.tokenizer.convert_tokens_to_ids("<|im_end|>")
    texts = _texts("15-post-training")
    assert f"about {round(100 * float(probs[im_end]))}%" in texts["en"] and f"约 {round(100 * float(probs[im_end]))}%" in texts["zh-Hans"]
    ids = lm.chat_ids(question)
    with torch.no_grad():
        out = lm.model.generate(torch.tensor([ids]), max_new_tokens=30, do_sample=False)
    answer = lm.tokenizer.decode(out[0, len(ids):], skip_special_tokens=True)
    assert f'The greedy answer is "{answer}"' in texts["en"] and f"贪心解码的回答是“{answer}”" in texts["zh-Hans"]


# --- lesson 16: evaluating LLM applications -------------------------------------------------


@pytest.mark.slow
def test_evaluation_lesson_numbers(lm):  # noqa: F811
    texts = _texts("16-evaluating-llm-apps")
    paris = lm.token_id(" Paris")
    top = lm.next_probs("The capital of France is")
    assert f"{round(100 * float(top[paris]))}%" in texts["en"]
    probs = lm.next_probs(_tryit_prompt("16-evaluating-llm-apps", "The same fact, asked with different words"))
    assert f'" Paris" now gets only about {_pct(float(probs[paris]))}' in texts["en"]
    assert f'" Paris" 现在只有约 {_pct(float(probs[paris]))}' in texts["zh-Hans"]
    ahead = [lm.tokenizer.decode([int(i)]) for i in probs.topk(3).indices]
    assert f'behind "{ahead[0]}", "{ahead[1]}" and "{ahead[2]}"' in texts["en"]

    def judge(prompt: str) -> tuple[float, float]:
        with torch.no_grad():
            p = torch.softmax(lm.model(torch.tensor([lm.chat_ids(prompt)])).logits[0, -1], dim=-1)
        return float(p[lm.token_id("A")]), float(p[lm.token_id("B")])

    a, b = judge(_tryit_prompt("16-evaluating-llm-apps", "Two identical answers: which one does the judge pick?"))
    assert f'"A" gets about {_pct(a)} and "B" about {_pct(b)}, five times less' in texts["en"]
    assert f"“A”约得 {_pct(a)}，“B”约得 {_pct(b)}" in texts["zh-Hans"] and round(a / b) == 5  # 五分之一, 五倍
    lyon = "Which answer is better? Reply with A or B only.\nQuestion: What is the capital of France?\nA: Lyon.\nB: Paris."
    a, b = judge(lyon)
    assert f"more probability on A ({_pct(a)}) than on B ({_pct(b)})" in texts["en"]
    assert f"给 A（{_pct(a)}）比给 B（{_pct(b)}）更多的概率" in texts["zh-Hans"]
    assert "about 1.4 percentage points" in texts["en"] and f"{100 * math.sqrt(0.7 * 0.3 / 1000):.1f}" == "1.4"
    se = _question("lessons/16-evaluating-llm-apps/quiz.yaml", "q4-standard-error")
    assert abs(se["answer"] - 100 * math.sqrt(0.8 * 0.2 / 400)) < 1e-9


def test_evaluation_lesson_worked_example_matches_the_recorded_runs():
    """Lesson 16's "What we got": the recorded evaluation of the base model and two FAQ fine-tunes."""
    texts = _texts("16-evaluating-llm-apps")
    table = re.findall(r"^\| (\d) \| (.+?) \| (.+?) \|$", texts["en"], flags=re.M)
    evaluation = RUNS["faq_evaluation"]
    assert [(q, k) for _, q, k in table] == [(r["question"], r["key"]) for r in evaluation["paraphrased"]["base"]]
    assert all(f"| {n} | {q} | {k} |" in texts["zh-Hans"] for n, q, k in table)
    for model in ("base", "tuned24", "tuned120"):
        for row in evaluation["paraphrased"][model]:
            assert row["pass"] == (row["key"].lower() in row["answer"].lower())
        assert sum(r["pass"] for r in evaluation["paraphrased"][model]) == 0, model
    for model in ("tuned24", "tuned120"):
        assert sum(r["pass"] for r in evaluation["training_questions"][model]) == 0
    assert any(r["answer"] == "The meal allowance is 20 euros per day." for r in evaluation["paraphrased"]["tuned120"])
    ppl = [RUNS["runs"]["24_steps"]["eval_before"]["perplexity"], RUNS["runs"]["24_steps"]["eval_after"]["perplexity"],
           RUNS["runs"]["120_steps"]["eval_after"]["perplexity"]]
    assert RUNS["runs"]["120_steps"]["eval_before"] == RUNS["runs"]["24_steps"]["eval_before"]
    numbers = [f"{p:.1f}" for p in ppl]
    assert "from {} before training to {} after 24 steps and {} after 120".format(*numbers) in texts["en"]
    assert "从训练前的 {} 降到了 24 步后的 {} 和 120 步后的 {}".format(*numbers) in texts["zh-Hans"]


# --- the figures of lessons 10, 12, 13 and 14 -----------------------------------------------


def _svg(lesson: str, name: str) -> str:
    return (LESSONS / lesson / name).read_text(encoding="utf-8")


def _desc(text: str) -> str:
    return re.search(r'<desc id="desc">(.+?)</desc>', text, flags=re.S).group(1)


@pytest.mark.parametrize("lang", ["en", "zh-Hans"])
def test_loss_curve_figure_plots_the_recorded_fine_tune(lang):
    """The polyline is the recorded run's loss at each step (x = 70 + 5·step, y = 330 − 96·(loss − 2))."""
    run = RUNS["runs"]["120_steps"]
    losses = run["train_loss"]
    text = _svg("10-how-training-works", f"loss-curve.{lang}.svg")
    points = re.search(r'<polyline id="train-loss" points="([^"]+)"', text).group(1).split()
    assert len(points) == len(losses) == run["config"]["steps"] == 120
    for step, (point, loss) in enumerate(zip(points, losses, strict=True), 1):
        x, y = map(float, point.split(","))
        assert abs(x - (70 + 5 * step)) < 0.06 and abs(y - (330 - 96 * (loss - 2.0))) < 0.06, step
    desc = _desc(text)
    for number in (losses[0], losses[-1], min(losses), sum(losses[:10]) / 10, sum(losses[-10:]) / 10,
                   run["eval_before"]["loss"], run["eval_after"]["loss"]):
        assert f"{number:.2f}" in desc
    assert f"{run['eval_before']['perplexity']:.1f}" in desc and f"{run['eval_after']['perplexity']:.1f}" in desc
    for lesson_lang in ("en", "zh-Hans"):  # the alt texts round the same averages
        alt = _texts("10-how-training-works")[lesson_lang]
        assert f"{sum(losses[:10]) / 10:.1f}" in alt and f"{sum(losses[-10:]) / 10:.1f}" in alt


@pytest.mark.parametrize("lang", ["en", "zh-Hans"])
def test_kv_cache_figure_matches_the_model_config(lang):
    config = json.loads((Path(__import__("django.conf").conf.settings.LLM_MODEL_DIR) / "smollm2-135m-instruct/config.json")
                        .read_text())
    per_token = 2 * config["num_hidden_layers"] * config["num_key_value_heads"] * config["head_dim"] * 4
    desc = _desc(_svg("13-prompts-chat-context", f"kv-cache-growth.{lang}.svg"))
    assert f"{per_token:,}" in desc
    for n in (1024, 2048, 4096, 8192):
        assert f"{n * per_token / 1e6:.1f} MB" in desc
    assert f"{round(100 * 8192 * per_token / (134_515_008 * 4))}%" in desc


@pytest.mark.slow
def test_token_cost_figure_counts_with_the_real_tokenizer(lm):  # noqa: F811
    for lang in ("en", "zh-Hans"):
        desc = _desc(_svg("14-llms-and-chinese", f"token-cost.{lang}.svg"))
        quote = r'"([^"]+)" (\d+) tokens' if lang == "en" else r"“([^”]+)” (\d+) 个词元"
        pairs = re.findall(quote, desc)
        assert len(pairs) == (3 if lang == "en" else 6)  # the English desc names the Chinese only by its count
        if lang == "en":
            chinese = [int(n) for n in re.findall(r"its Chinese translation (\d+) tokens", desc)]
            assert chinese == [int(n) for _, n in re.findall(r"“([^”]+)” (\d+) 个词元", _desc(
                _svg("14-llms-and-chinese", "token-cost.zh-Hans.svg")))[1::2]] and len(chinese) == 3
        for sentence, count in pairs:
            assert len(lm.ids(sentence)) == int(count), sentence
