"""Token-level helpers shared by the tokenizer view and the streamer."""

from __future__ import annotations


def piece_text(tokenizer, token_id: int) -> str:
    """The text a single token contributes, with byte-level markers undone."""
    return tokenizer.decode([token_id], clean_up_tokenization_spaces=False)


def tokenize(tokenizer, text: str) -> list[dict]:
    """Split text into tokens: each with its id, raw piece and readable text."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    pieces = tokenizer.convert_ids_to_tokens(ids)
    return [{"id": int(i), "piece": p, "text": piece_text(tokenizer, i)} for i, p in zip(ids, pieces, strict=True)]
