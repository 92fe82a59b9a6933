"""Turn what the employee typed into token ids, in completion or chat mode."""

from __future__ import annotations


class PromptError(ValueError):
    code = "bad_prompt"


class PromptTooLong(PromptError):
    code = "prompt_too_long"

    def __init__(self, tokens: int, limit: int):
        super().__init__(f"The prompt is {tokens} tokens; the limit is {limit}. Shorten it and try again.")
        self.tokens, self.limit = tokens, limit


def stop_token_ids(tokenizer) -> frozenset[int]:
    """Tokens that end a generation: the EOS token and, for chat models, end-of-turn."""
    ids = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    for special in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>"):
        token_id = tokenizer.convert_tokens_to_ids(special)
        if isinstance(token_id, int) and token_id != tokenizer.unk_token_id:
            ids.add(token_id)
    return frozenset(ids)


def build_prompt(tokenizer, prompt: str, mode: str, *, max_tokens: int) -> tuple[list[int], frozenset[int]]:
    """Return (prompt ids, stop ids). Chat mode wraps the text as one user turn."""
    if mode == "chat":
        if not getattr(tokenizer, "chat_template", None):
            raise PromptError("This model has no chat template; use completion mode.")
        ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                            tokenize=True, return_dict=True)["input_ids"]
    elif mode == "completion":
        ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    else:
        raise PromptError(f"Unknown mode {mode!r}; use chat or completion.")
    if not ids:
        raise PromptError("The prompt is empty.")
    if len(ids) > max_tokens:
        raise PromptTooLong(len(ids), max_tokens)
    return list(ids), stop_token_ids(tokenizer)
