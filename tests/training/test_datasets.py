"""Dataset validation: every kind of bad file is refused, and each error names its line."""

import json

import pytest

from playground.ml.kinds import CAUSAL_LM, CLASSIFIER
from training.ml.datasets import BUILTINS, Limits, load_builtin, parse_dataset, split_rows


def jsonl(*rows) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows).encode()


GOOD_PAIRS = [{"prompt": f"question {i}", "response": f"answer {i}"} for i in range(10)]


def errors_of(data: bytes, fmt="jsonl", kind=CAUSAL_LM, **kw):
    return [(e.line, e.message) for e in parse_dataset(data, fmt=fmt, kind=kind, **kw).errors]


def test_builtin_datasets_are_valid_and_sized_for_a_held_out_split():
    for slug, meta in BUILTINS.items():
        parsed = load_builtin(slug)
        assert parsed.ok, (slug, parsed.errors)
        assert len(parsed.rows) >= 30
        assert parsed.kind == meta.kind
    assert load_builtin("sentiment").labels == ["negative", "neutral", "positive"]


def test_good_jsonl_and_csv_parse():
    parsed = parse_dataset(jsonl(*GOOD_PAIRS), fmt="jsonl", kind=CAUSAL_LM)
    assert parsed.ok and len(parsed.rows) == 10 and parsed.rows[3] == {"prompt": "question 3", "response": "answer 3"}
    csv = "text,label\n" + "".join(f"comment {i},{'pos' if i % 2 else 'neg'}\n" for i in range(10))
    parsed = parse_dataset(csv.encode(), fmt="csv", kind=CLASSIFIER)
    assert parsed.ok and parsed.labels == ["neg", "pos"] and parsed.lines[0] == 2


def test_bad_json_line_is_named():
    rows = [json.dumps(r) for r in GOOD_PAIRS]
    rows[4] = '{"prompt": "oops", "response": }'
    assert errors_of("\n".join(rows).encode()) == [(5, "not valid JSON (Expecting value at column 32)")]


def test_non_object_line_is_named():
    assert errors_of(jsonl(*GOOD_PAIRS[:9], "[1, 2]")) == [(10, "each line must be a JSON object")]


def test_missing_column_and_empty_value_are_named():
    rows = list(GOOD_PAIRS)
    rows[1] = {"prompt": "no answer here"}
    rows[6] = {"prompt": "  ", "response": "x"}
    assert errors_of(jsonl(*rows)) == [(2, "missing the 'response' field"), (7, "'prompt' is empty")]


def test_csv_header_must_name_the_columns():
    data = b"question,answer\nhi,there\n"
    assert errors_of(data, fmt="csv") == [(1, "the header must name the columns prompt, response; missing: prompt, response")]


def test_csv_empty_row_and_ragged_row_are_named():
    data = "text,label\n" + "".join(f"t{i},a\n" if i % 2 else f"t{i},b\n" for i in range(8)) + ",\nx,a,extra\n"
    assert errors_of(data.encode(), fmt="csv", kind=CLASSIFIER) == [(10, "empty row"), (11, "expected 2 fields, found 3")]


def test_size_row_and_token_caps():
    big = jsonl(*GOOD_PAIRS)
    assert errors_of(big, limits=Limits(max_bytes=100))[0][1].startswith("the file is")
    assert errors_of(big, limits=Limits(max_rows=5)) == [(6, "more than 5 rows")]
    assert errors_of(jsonl(*GOOD_PAIRS[:3])) == [(0, "3 rows; at least 8 are needed (some are held out for evaluation)")]
    long = list(GOOD_PAIRS)
    long[2] = {"prompt": "word " * 50, "response": "x"}
    errs = errors_of(jsonl(*long), limits=Limits(max_row_tokens=20), count_tokens=lambda t: len(t.split()))
    assert errs == [(3, "51 tokens; the limit per row is 20")]


def test_label_set_is_checked():
    one_label = "text,label\n" + "".join(f"t{i},same\n" for i in range(10))
    assert errors_of(one_label.encode(), fmt="csv", kind=CLASSIFIER) == [
        (0, "a classifier needs at least two labels; found only ['same']")]
    many = "text,label\n" + "".join(f"t{i},label{i}\n" for i in range(12))
    assert errors_of(many.encode(), fmt="csv", kind=CLASSIFIER, limits=Limits(max_labels=10)) == [
        (0, "12 different labels; the limit is 10")]
    long_label = "text,label\n" + "".join(f"t{i},{'a' if i % 2 else 'b'}\n" for i in range(9)) + "t,{}\n".format("L" * 60)
    assert errors_of(long_label.encode(), fmt="csv", kind=CLASSIFIER) == [(11, "the label is longer than 50 characters")]


@pytest.mark.parametrize("fmt", ["txt", ""])
def test_unknown_format_and_non_utf8_are_refused(fmt):
    assert errors_of(jsonl(*GOOD_PAIRS), fmt=fmt) == [(0, "the file must be JSONL (.jsonl) or CSV (.csv)")]


def test_non_utf8_names_its_line():
    data = jsonl(*GOOD_PAIRS[:3]) + b"\n" + b'{"prompt": "caf\xe9"}'
    assert errors_of(data) == [(4, "the file is not UTF-8 text")]


def test_split_is_deterministic_and_keeps_both_sides():
    rows = list(range(20))
    train, held = split_rows(rows, eval_fraction=0.2, seed=1)
    assert len(held) == 4 and len(train) == 16 and sorted(train + held) == rows
    assert split_rows(rows, eval_fraction=0.2, seed=1) == (train, held)
    assert len(split_rows(rows[:2], eval_fraction=0.01)[1]) == 1
