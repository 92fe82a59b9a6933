"""Every model-checked answer in the built-in course, recomputed from the playground's real model.

A pinned question (`pinned: true` in its quiz or exam file) other than a fine-tuning lab question
(`type: lab`) is a model-checked one, and each model-checked question has an entry in CHECKS below that recomputes its answer from SmolLM2-135M-Instruct (the
playground's default model, loaded once for the module) the way the playground computes it:
completion prompts are tokenised without special tokens, chat prompts go through the model's
chat template, and sampled probabilities follow the playground's order (temperature, then
top-k, then top-p). A test fails if a written answer drifts from the model, if a pinned
question has no check, or if a lesson has no pinned question. (Lesson 2's previous-token
question keeps its own test, test_attention_question.py.)
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
import yaml
from django.conf import settings

COURSE = Path(settings.BASE_DIR) / "courseapp/content/how-llms-work"


def _load(relative: str) -> dict:
    return yaml.safe_load((COURSE / relative).read_text(encoding="utf-8"))


def _question(relative: str, slug: str) -> dict:
    return next(q for q in _load(relative)["questions"] if q["slug"] == slug)


def _quoted(text: str, n: int = 0) -> str:
    """The n-th double-quoted string in a prompt (the prompts quote the text to type)."""
    return re.findall(r'"([^"]+)"', text)[n]


@pytest.fixture(scope="module")
def lm():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from playground.ml.provision import provision_defaults

    path = provision_defaults(Path(settings.LLM_MODEL_DIR), log=lambda *_: None)[0].path
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation="eager", dtype=torch.float32).eval()
    return _LM(model, tokenizer)


class _LM:
    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model, tokenizer

    def ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def chat_ids(self, message: str) -> list[int]:
        return self.tokenizer.apply_chat_template([{"role": "user", "content": message}], add_generation_prompt=True,
                                                  tokenize=True, return_dict=True)["input_ids"]

    @torch.no_grad()
    def next_logits(self, prompt: str) -> torch.Tensor:
        return self.model(torch.tensor([self.ids(prompt)])).logits[0, -1]

    def next_probs(self, prompt: str) -> torch.Tensor:
        return torch.softmax(self.next_logits(prompt), dim=-1)

    def sampled_probs(self, prompt: str, *, temperature: float, top_k: int, top_p: float) -> torch.Tensor:
        """The distribution the playground samples from (no repetition penalty at 1.0)."""
        scores = self.next_logits(prompt) / temperature
        if top_k:
            scores = scores.masked_fill(scores < torch.topk(scores, top_k).values[-1], float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        if top_p < 1.0:
            ordered, order = torch.sort(probs, descending=True)
            ordered = ordered.masked_fill(torch.cumsum(ordered, 0) - ordered >= top_p, 0.0)
            probs = torch.zeros_like(probs).scatter(0, order, ordered)
            probs = probs / probs.sum()
        return probs

    def token_id(self, piece: str) -> int:
        ids = self.ids(piece)
        assert len(ids) == 1, f"{piece!r} is not a single token: {ids}"
        return ids[0]

    @torch.no_grad()
    def token_nll(self, ids: list[int]) -> list[float]:
        """-ln p of every token after the first, given the tokens before it."""
        logp = torch.log_softmax(self.model(torch.tensor([ids])).logits[0], dim=-1)
        return [-float(logp[k - 1, ids[k]]) for k in range(1, len(ids))]

    def perplexity(self, text: str) -> float:
        nll = self.token_nll(self.ids(text))
        return math.exp(sum(nll) / len(nll))

    @torch.no_grad()
    def attentions(self, text: str):
        return self.model(torch.tensor([self.ids(text)]), output_attentions=True).attentions

    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def _close(question: dict, computed: float):
    assert question["type"] == "numeric"
    assert abs(question["answer"] - computed) <= question["tolerance"], (
        f"{question['slug']}: written answer {question['answer']} ± {question['tolerance']}, the model gives {computed}")


def _only_correct_choice(question: dict, text_en: str):
    correct = [c["text"]["en"] for c in question["choices"] if c["correct"]]
    assert correct == [text_en], f"{question['slug']}: the model says {text_en!r}, the key says {correct}"


# --- One function per model-checked question ------------------------------------------------


def check_playground_memory(lm, q):
    _close(q, lm.parameters() * 4 / 1e6)


def check_p_paris(lm, q):
    prompt = next(text for text in re.findall(r'"([^"]+)"', q["prompt"]["en"]) if text.startswith("The capital"))
    probs = lm.next_probs(prompt)
    paris = lm.token_id(" Paris")
    assert int(probs.argmax()) == paris
    _close(q, 100 * float(probs[paris]))


def check_quoted_token_probability(lm, q):
    """The prompt quotes the context first and the token second; the answer is its probability in percent."""
    prompt, target = _quoted(q["prompt"]["en"]), _quoted(q["prompt"]["en"], 1)
    _close(q, 100 * float(lm.next_probs(prompt)[lm.token_id(target)]))


def check_training_flops(lm, q):
    _close(q, 6 * lm.parameters() * 2e12 / 1e21)


def check_chat_hello_tokens(lm, q):
    ids = lm.chat_ids(_quoted(q["prompt"]["en"]))
    assert lm.tokenizer.convert_ids_to_tokens(ids).count("<|im_start|>") == 3, "the lesson says three"
    _close(q, len(ids))


@torch.no_grad()
def check_kv_cache_bytes(lm, q):
    """Run the model on a few tokens and measure how much its key/value cache holds per token."""
    ids = lm.ids("one two three four five")
    cache = lm.model(torch.tensor([ids]), use_cache=True)["cache"]
    size = sum(t.numel() * t.element_size() for layer in cache.layers for t in (layer.keys, layer.values))
    _close(q, size / len(ids))


def check_mars_top_probability(lm, q):
    probs = lm.next_probs(_quoted(q["prompt"]["en"]))
    assert int(probs.argmax()) == lm.token_id(" named"), "the explanation names the top token"
    _close(q, 100 * float(probs.max()))


def check_next_token_loss(lm, q):
    """The prompt quotes the context first and the next token second; the answer is -ln p."""
    prompt, target = _quoted(q["prompt"]["en"]), _quoted(q["prompt"]["en"], 1)
    _close(q, -math.log(float(lm.next_probs(prompt)[lm.token_id(target)])))


def check_smollm2_lora_params(lm, q):
    r = int(re.search(r"rank r = (\d+)", q["prompt"]["en"]).group(1))
    adapters = [m for name, m in lm.model.named_modules() if name.endswith(("self_attn.q_proj", "self_attn.v_proj"))]
    assert len(adapters) == 2 * lm.model.config.num_hidden_layers
    _close(q, sum(r * (m.in_features + m.out_features) for m in adapters))


def check_greedy_perplexity(lm, q):
    prompt = _quoted(q["prompt"]["en"])
    n = int(re.search(r"(\d+) new tokens", q["prompt"]["en"]).group(1))
    ids, nll = lm.ids(prompt), []
    with torch.no_grad():
        for _ in range(n):
            logp = torch.log_softmax(lm.model(torch.tensor([ids])).logits[0, -1], dim=-1)
            ids.append(int(logp.argmax()))
            nll.append(-float(logp.max()))
    _close(q, math.exp(sum(nll) / n))


def check_quoted_text_tokens(lm, q):
    _close(q, len(lm.ids(_quoted(q["prompt"]["en"]))))


def check_initial_loss(lm, q):
    assert f"{len(lm.tokenizer):,}" in q["prompt"]["en"]
    _close(q, math.log(len(lm.tokenizer)))


def check_it_animal_head(lm, q):
    sentence = _quoted(_question("lessons/02-transformer-attention/quiz.yaml", "q9-previous-token-head")["prompt"]["en"])
    layer = int(re.search(r"layer (\d+)", q["prompt"]["en"]).group(1))
    tokens = lm.tokenizer.convert_ids_to_tokens(lm.ids(sentence))
    it, animal = tokens.index("Ġit"), tokens.index("Ġanimal")
    weights = lm.attentions(sentence)[layer][0, :, it, animal]  # (heads,)
    _close(q, int(weights.argmax()))
    lesson = (COURSE / "lessons/02-transformer-attention/en.md").read_text(encoding="utf-8")
    assert f'it was too tired"\nlayer: {layer}\nhead: {int(weights.argmax())}\n' in lesson, "the Try-it opens on that head"
    runner_up = weights.sort(descending=True).values[1]
    assert weights.max() > 0.6 and weights.max() > 3 * runner_up, "the head should stand out on the heatmap"


def check_probably_at_low_temperature(lm, q):
    prompt = _quoted(q["prompt"]["en"])
    probs = lm.sampled_probs(prompt, temperature=0.2, top_k=50, top_p=1.0)
    model_p = float(lm.next_probs(prompt)[lm.token_id(" probably")])
    assert 0.08 < model_p < 0.12, "the prompt says the model's own probability is about 10%"
    _close(q, 100 * float(probs[lm.token_id(" probably")]))


def check_cloudy_nucleus(lm, q):
    prompt = _quoted(q["prompt"]["en"])
    probs = lm.sampled_probs(prompt, temperature=1.0, top_k=0, top_p=0.5)
    _close(q, int((probs > 0).sum()))


# --- Lessons 15-17 (post-training, evaluating applications, the tokenizer lab) ------------


def _tryit_prompt(lesson: str, label: str) -> str:
    """The prompt of the Try it block with this label in a lesson's en.md."""
    from courseapp.rendering import parse_tryit

    text = (COURSE / "lessons" / lesson / "en.md").read_text(encoding="utf-8")
    blocks = [parse_tryit(body, line=0) for body in re.findall(r"^```tryit\n(.*?)^```$", text, flags=re.M | re.S)]
    return next(b.prompt for b in blocks if b.label == label)


def check_im_end_without_template(lm, q):
    """The bare question, no chat template: the first token is most likely <|im_end|>."""
    probs = lm.next_probs(_quoted(q["prompt"]["en"]))
    im_end = lm.tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert int(probs.argmax()) == im_end
    assert lm.tokenizer.decode([int(probs.topk(2).indices[1])]) == "\n", "the explanation names the runner-up"
    _close(q, 100 * float(probs[im_end]))


def check_judge_position_bias(lm, q):
    """Two identical answers in the judge prompt; the answer is the probability of "A"."""
    prompt = _tryit_prompt("16-evaluating-llm-apps", _quoted(q["prompt"]["en"]))
    answer_a, answer_b = re.findall(r"^Answer [AB]: (.+)$", prompt, flags=re.M)
    assert answer_a == answer_b
    with torch.no_grad():
        probs = torch.softmax(lm.model(torch.tensor([lm.chat_ids(prompt)])).logits[0, -1], dim=-1)
    assert int(probs.argmax()) == lm.token_id("A")
    _close(q, 100 * float(probs[lm.token_id("A")]))


def minilm_tokenizer():
    from transformers import AutoTokenizer

    from playground.ml.provision import minilm_path

    return AutoTokenizer.from_pretrained(str(minilm_path()))


def check_minilm_unknown_tokens(lm, q):
    """The quoted sentence in MiniLM's tokenizer, as the playground's Tokenizer card splits it: how many [UNK]s."""
    from playground.ml.tokens import tokenize

    pieces = [t["piece"] for t in tokenize(minilm_tokenizer(), _quoted(q["prompt"]["en"]))]
    _close(q, pieces.count("[UNK]"))


def test_exam_model_checked_questions_are_not_quiz_questions():
    """The exam asks the same skills as the quizzes on prompts of its own, so a retake of a quiz is no rehearsal."""
    course = _load("course.yaml")
    quiz_prompts = {_quoted(q["prompt"]["en"]) for slug in (s for m in course["modules"] for s in m["lessons"])
                    if (COURSE / f"lessons/{slug}/quiz.yaml").is_file()
                    for q in _load(f"lessons/{slug}/quiz.yaml")["questions"] if '"' in q["prompt"]["en"]}
    for f, slug in CHECKS:
        if f.startswith("exams/"):
            assert _quoted(_question(f, slug)["prompt"]["en"]) not in quiz_prompts, slug


def check_lens_first_layer(lm, q):
    """The layer view (playground/ml/lens.py): the first layer whose top-1 at the last position is the quoted token."""
    from playground.ml import lens

    prompt, target = _quoted(q["prompt"]["en"]), _quoted(q["prompt"]["en"], 1)
    grid = lens.lens_grid(lm.model, lm.tokenizer, lm.ids(prompt), pick=lm.token_id(target))
    assert int(grid.final_top()[-1]) == lm.token_id(target)
    _close(q, grid.pick_first_top()[-1])
    ranks = grid.pick["ranks"][:, -1].tolist()
    assert (ranks[27], ranks[28]) == (7, 3), f"the explanation quotes ranks 7 and 3, the model gives {ranks[27:29]}"


def _tryit_block(lesson: str, view: str) -> dict:
    """The (only) try-it block of `view` in a lesson's English text."""
    text = (COURSE / lesson / "en.md").read_text(encoding="utf-8")
    blocks = [yaml.safe_load(body) for body in re.findall(r"```tryit\n(.*?)```", text, re.DOTALL)]
    (block,) = [b for b in blocks if b["view"] == view]
    return block


def check_switch_off_probability(lm, q):
    """The switch-off panel (playground/ml/lens.py): P(token) in percent with the Try it's head zeroed."""
    from playground.lens_views import IT_TEXT
    from playground.ml import lens

    block = _tryit_block("lessons/02-transformer-attention", "ablation")
    assert (block["switch_off"], block["token"]) == ("13.8", " animal") and block["token"] in q["prompt"]["en"]
    assert block["prompt"] == IT_TEXT, "the panel's 13.8 preset runs the lesson's text"
    ablations = lens.parse_ablations(block["switch_off"], layers=30, heads=9)
    result = lens.ablate(lm.model, lm.ids(block["prompt"]), ablations)
    animal = lm.token_id(block["token"])
    assert abs(100 * float(result.before[animal]) - 48.6) < 0.5, "the explanation quotes 48.6% with every head on"
    _close(q, 100 * float(result.after[animal]))


CHECKS = {
    ("lessons/01-why-llms/quiz.yaml", "q9-playground-memory"): check_playground_memory,
    ("lessons/03-tokens-embeddings-hidden-states/quiz.yaml", "q9-p-paris"): check_p_paris,
    ("lessons/02-transformer-attention/quiz.yaml", "q10-it-animal-head"): check_it_animal_head,
    ("lessons/02-transformer-attention/quiz.yaml", "q11-switch-off-13-8"): check_switch_off_probability,
    ("lessons/03-tokens-embeddings-hidden-states/quiz.yaml", "q10-paris-first-layer"): check_lens_first_layer,
    ("lessons/09-risks-limits/quiz.yaml", "q9-mars-top-probability"): check_mars_top_probability,
    ("lessons/10-how-training-works/quiz.yaml", "q1-paris-loss"): check_next_token_loss,
    ("lessons/10-how-training-works/quiz.yaml", "q2-initial-loss"): check_initial_loss,
    ("lessons/11-training-data/quiz.yaml", "q1-great-wall-space"): check_quoted_token_probability,
    ("lessons/12-compute-and-scale/quiz.yaml", "q1-training-flops"): check_training_flops,
    ("lessons/13-prompts-chat-context/quiz.yaml", "q1-chat-hello-tokens"): check_chat_hello_tokens,
    ("lessons/13-prompts-chat-context/quiz.yaml", "q2-kv-cache-bytes"): check_kv_cache_bytes,
    ("lessons/14-llms-and-chinese/quiz.yaml", "q1-chinese-title-tokens"): check_quoted_text_tokens,
    ("lessons/14-llms-and-chinese/quiz.yaml", "q2-english-question-tokens"): check_quoted_text_tokens,
    ("lessons/14-llms-and-chinese/quiz.yaml", "q6-minilm-unknown-tokens"): check_minilm_unknown_tokens,
    ("exams/final-exam.yaml", "e16-p-tokyo"): check_quoted_token_probability,
    ("exams/final-exam.yaml", "e17-chinese-sentence-tokens"): check_quoted_text_tokens,
    ("lessons/04-pretraining-objectives/quiz.yaml", "q10-invoice-loss"): check_next_token_loss,
    ("lessons/05-fine-tuning/quiz.yaml", "q9-smollm2-lora-params"): check_smollm2_lora_params,
    ("lessons/06-evaluation/quiz.yaml", "q10-greedy-perplexity"): check_greedy_perplexity,
    ("lessons/08-applications-tools/quiz.yaml", "q9-ticket-tokens"): check_quoted_text_tokens,
    ("lessons/07-decoding-sampling/quiz.yaml", "q10-probably-at-low-temperature"): check_probably_at_low_temperature,
    ("lessons/07-decoding-sampling/quiz.yaml", "q11-cloudy-nucleus"): check_cloudy_nucleus,
    ("lessons/15-post-training/quiz.yaml", "q1-im-end-without-template"): check_im_end_without_template,
    ("lessons/16-evaluating-llm-apps/quiz.yaml", "q1-judge-position-bias"): check_judge_position_bias,
    ("lessons/17-tokenizer-lab/quiz.yaml", "q1-minilm-unk-count"): check_minilm_unknown_tokens,
}


@pytest.mark.slow
@pytest.mark.parametrize("where", list(CHECKS), ids=lambda where: where[1])
def test_model_checked_answer(lm, where):
    CHECKS[where](lm, _question(*where))


def _pinned():
    course = _load("course.yaml")
    lessons = [slug for module in course["modules"] for slug in module["lessons"]]
    files = [f"lessons/{slug}/quiz.yaml" for slug in lessons] + [f"exams/{slug}.yaml" for slug in course["exams"]]
    # Lab questions (type: lab) are pinned too, but graded against the learner's own fine-tune, not the model.
    return {(f, q["slug"]) for f in files for q in _load(f)["questions"] if q.get("pinned") and q["type"] != "lab"}, lessons


def test_every_pinned_question_has_a_check_and_every_lesson_has_one():
    pinned, lessons = _pinned()
    assert len([f for f, _ in pinned if f.startswith("exams/")]) == 2, "the final exam pins two model-checked questions"
    assert pinned - set(CHECKS) == set(), "a pinned question is model-checked, so it needs an entry in CHECKS"
    without = [slug for slug in lessons if not any(f == f"lessons/{slug}/quiz.yaml" for f, _ in pinned)]
    assert without == [], f"lessons without a model-checked question: {without}"


@pytest.mark.slow
def test_lesson_one_describes_the_playground_gguf(lm):
    """Lesson 1's quantisation table: Q4_1 matrices, a Q8_0 embedding table, a 98 MB file, 134,515,008 weights."""
    from collections import Counter

    import gguf

    from playground.ml.provision import smollm2_gguf_path

    path = smollm2_gguf_path()
    reader = gguf.GGUFReader(str(path))
    matrices = Counter(t.tensor_type.name for t in reader.tensors if len(t.shape) == 2)
    embedding = next(t for t in reader.tensors if t.name == "token_embd.weight")
    assert embedding.tensor_type.name == "Q8_0" and set(matrices) == {"Q4_1", "Q8_0"} and matrices["Q8_0"] == 1
    assert sum(int(t.n_elements) for t in reader.tensors) == lm.parameters()
    lesson = (COURSE / "lessons/01-why-llms/en.md").read_text(encoding="utf-8")
    assert f"{lm.parameters():,}" in lesson
    assert f"| {round(path.stat().st_size / 1e6)} MB |" in lesson
    assert f"about {path.stat().st_size * 8 / lm.parameters():.2f} on average" in lesson


@pytest.mark.slow
def test_training_data_lesson_perplexities(lm):
    """The misinformation section's perplexities of a true and a false sentence."""
    true, false = lm.perplexity("Paris is the capital of France."), lm.perplexity("Paris is the capital of Germany.")
    for lesson in ("en.md", "zh-Hans.md"):
        text = (COURSE / "lessons/11-training-data" / lesson).read_text(encoding="utf-8")
        assert f"{true:.1f}" in text and f"{false:.1f}" in text and true < false


@pytest.mark.slow
def test_chinese_lesson_token_table(lm):
    """The token counts in the Chinese lesson's table and in lesson 1's explanation."""
    for lesson in ("en.md", "zh-Hans.md"):
        text = (COURSE / "lessons/14-llms-and-chinese" / lesson).read_text(encoding="utf-8")
        rows = re.findall(r"^\| (.+?) \| (\d+) \| (\d+) \|$", text, flags=re.M)
        assert len(rows) == 4
        for sentence, characters, tokens in rows:
            assert (len(sentence), len(lm.ids(sentence))) == (int(characters), int(tokens)), sentence
    english = (COURSE / "lessons/14-llms-and-chinese/en.md").read_text(encoding="utf-8")
    ask = re.search(r'^prompt: "(.+)"$', english, flags=re.M).group(1)  # the lesson's Try it prompt
    pieces = [lm.tokenizer.decode([i]) for i in lm.ids(ask)]
    whole = [p for p in pieces if "\ufffd" not in p]
    assert f"{len(ask)}-character message becomes {len(pieces)} tokens, and only {len(whole)} of them" in english
    zh, en = len(lm.ids("大语言模型如何工作")), len(lm.ids("How do large language models work?"))
    assert f"into {en} tokens" in (COURSE / "lessons/01-why-llms/en.md").read_text(encoding="utf-8")
    assert f"要 {zh} 个词元" in (COURSE / "lessons/01-why-llms/zh-Hans.md").read_text(encoding="utf-8")


def test_every_lesson_has_the_same_sections_and_try_it_blocks_in_both_languages():
    """Same number of sections, and the same Try-it blocks (all but the label), in en.md and zh-Hans.md."""
    from courseapp.rendering import parse_tryit

    def outline(path: Path):
        text = path.read_text(encoding="utf-8")
        blocks = [parse_tryit(body, line=0) for body in re.findall(r"^```tryit\n(.*?)^```$", text, flags=re.M | re.S)]
        return len(re.findall(r"^## ", text, flags=re.M)), [(b.model, b.mode, b.view, b.prompt, b.params, b.layer, b.head)
                                                              for b in blocks]

    _, lessons = _pinned()
    assert len(lessons) >= 12
    for slug in lessons:
        en, zh = outline(COURSE / "lessons" / slug / "en.md"), outline(COURSE / "lessons" / slug / "zh-Hans.md")
        assert en == zh, slug
        assert en[1], f"{slug} has no Try it block"
