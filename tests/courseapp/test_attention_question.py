"""The quiz question about a previous-token head is checked against the model's real attention."""

import re
from pathlib import Path

import torch
import yaml
from django.conf import settings

QUIZ = Path(settings.BASE_DIR) / "courseapp/content/how-llms-work/lessons/02-transformer-attention/quiz.yaml"


def test_previous_token_head_answer_matches_the_model():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    question = next(q for q in yaml.safe_load(QUIZ.read_text())["questions"] if q["slug"] == "q9-previous-token-head")
    prompt = question["prompt"]["en"]
    sentence = re.search(r'"([^"]+)"', prompt).group(1)
    layer = int(re.search(r"layer (\d+)", prompt).group(1))
    from playground.ml.provision import provision_defaults

    path = provision_defaults(Path(settings.LLM_MODEL_DIR), log=lambda *_: None)[0].path
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation="eager", dtype=torch.float32).eval()
    ids = tokenizer(sentence, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        att = model(torch.tensor([ids]), output_attentions=True).attentions[layer][0]  # (heads, T, T)
    previous = torch.stack([att[:, i, i - 1] for i in range(1, len(ids))], dim=-1).mean(dim=-1)  # (heads,)
    best = int(previous.argmax())
    assert question["answer"] == best
    runner_up = previous.sort(descending=True).values[1]
    assert previous[best] > 2 * runner_up, "the answer should be unambiguous on screen"
