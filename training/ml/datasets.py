"""Parse and validate fine-tune datasets: JSONL or CSV, prompt/response or text/label.

Everything an employee uploads is checked here before a job is queued: the format,
the columns, empty rows, the file size, the row and token caps and the label set.
Each error names its line (1-based; a CSV's header is line 1), so the upload form can
say exactly what to fix. No Django and no torch: the web process runs this.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from playground.ml.kinds import CAUSAL_LM, CLASSIFIER


def gettext_noop(message: str) -> str:
    """Marks a string for Django's `makemessages` (which looks for this name) without
    importing Django; the web side translates it when it shows it."""
    return message


COLUMNS = {CAUSAL_LM: ("prompt", "response"), CLASSIFIER: ("text", "label")}
FORMATS = ("jsonl", "csv")
BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 2_000_000  # the upload itself
    max_rows: int = 5_000
    min_rows: int = 8  # enough for a held-out split
    max_row_tokens: int = 1_024  # prompt + response (or text), in the base model's tokens
    max_labels: int = 20
    max_label_chars: int = 50


@dataclass(frozen=True)
class RowError:
    line: int  # 0 = the file as a whole
    message: str

    def __str__(self):
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass
class ParsedDataset:
    kind: str
    rows: list[dict] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # source line of each row
    errors: list[RowError] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # sorted label set (classifier)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class BuiltinDataset:
    slug: str
    title: str
    kind: str
    filename: str
    description: str

    @property
    def path(self) -> Path:
        return BUILTIN_DIR / self.filename


BUILTINS = {
    d.slug: d
    for d in [
        BuiltinDataset("company-faq", gettext_noop("Company FAQ (Q&A)"), CAUSAL_LM, "company_faq.jsonl",
                       gettext_noop("Questions employees ask about leave, expenses, IT and security, "
                                    "with the answers HR wrote.")),
        BuiltinDataset("sentiment", gettext_noop("Customer feedback sentiment"), CLASSIFIER, "sentiment.csv",
                       gettext_noop("Short customer comments labelled positive, negative or neutral.")),
    ]
}

MAX_ERRORS = 50  # a broken file is reported in full up to here, then summarised


def detect_format(filename: str) -> str | None:
    suffix = Path(filename).suffix.lower().lstrip(".")
    return {"jsonl": "jsonl", "ndjson": "jsonl", "csv": "csv"}.get(suffix)


def _records_jsonl(text: str, errors: list[RowError]):
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue  # blank lines between records are harmless in JSONL
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(RowError(number, f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(record, dict):
            errors.append(RowError(number, "each line must be a JSON object"))
            continue
        yield number, record


def _records_csv(text: str, errors: list[RowError], columns: tuple[str, ...]):
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return
    except csv.Error as exc:
        errors.append(RowError(1, f"not valid CSV ({exc})"))
        return
    missing = [c for c in columns if c not in header]
    if missing:
        errors.append(RowError(1, f"the header must name the columns {', '.join(columns)}; missing: {', '.join(missing)}"))
        return
    try:
        for values in reader:
            number = reader.line_num
            if not any(v.strip() for v in values):
                errors.append(RowError(number, "empty row"))
                continue
            if len(values) != len(header):
                errors.append(RowError(number, f"expected {len(header)} fields, found {len(values)}"))
                continue
            yield number, dict(zip(header, values, strict=True))
    except csv.Error as exc:
        errors.append(RowError(reader.line_num, f"not valid CSV ({exc})"))


def _file_text(data: bytes, *, fmt: str, limits: Limits) -> tuple[str | None, RowError | None]:
    """The file's text, or why the whole file is refused."""
    if fmt not in FORMATS:
        return None, RowError(0, "the file must be JSONL (.jsonl) or CSV (.csv)")
    if len(data) > limits.max_bytes:
        return None, RowError(0, f"the file is {len(data):,} bytes; the limit is {limits.max_bytes:,}")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        return None, RowError(data[: exc.start].count(b"\n") + 1, "the file is not UTF-8 text")


def _row_fields(number: int, record: dict, columns: tuple[str, ...]) -> tuple[dict | None, RowError | None]:
    """The row's columns as trimmed text, or the first problem with them."""
    row = {}
    for column in columns:
        value = record.get(column)
        if value is None:
            return None, RowError(number, f"missing the {column!r} field")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return None, RowError(number, f"{column!r} must be text")
        value = str(value).strip()
        if not value:
            return None, RowError(number, f"{column!r} is empty")
        row[column] = value
    return row, None


def _row_size_error(number: int, row: dict, *, kind: str, limits: Limits,
                    count_tokens: Callable[[str], int] | None) -> RowError | None:
    if kind == CLASSIFIER and len(row["label"]) > limits.max_label_chars:
        return RowError(number, f"the label is longer than {limits.max_label_chars} characters")
    if count_tokens is not None:
        tokens = count_tokens(row["text"] if kind == CLASSIFIER else row["prompt"] + "\n" + row["response"])
        if tokens > limits.max_row_tokens:
            return RowError(number, f"{tokens} tokens; the limit per row is {limits.max_row_tokens}")
    return None


def _whole_file_errors(rows: list[dict], labels: set[str], *, kind: str, limits: Limits) -> list[RowError]:
    """Problems of the rows taken together (only asked when every row is fine)."""
    if not rows:
        return [RowError(0, "the file holds no rows")]
    if len(rows) < limits.min_rows:
        return [RowError(0, f"{len(rows)} rows; at least {limits.min_rows} are needed (some are held out for evaluation)")]
    if kind == CLASSIFIER and len(labels) < 2:
        return [RowError(0, f"a classifier needs at least two labels; found only {sorted(labels)}")]
    if kind == CLASSIFIER and len(labels) > limits.max_labels:
        return [RowError(0, f"{len(labels)} different labels; the limit is {limits.max_labels}")]
    return []


def parse_dataset(
    data: bytes,
    *,
    fmt: str,
    kind: str,
    limits: Limits | None = None,
    count_tokens: Callable[[str], int] | None = None,
) -> ParsedDataset:
    """Parse `data` and collect every problem; `rows` is usable only when `ok`."""
    limits = limits or Limits()
    result = ParsedDataset(kind=kind)
    errors = result.errors
    if kind not in COLUMNS:
        raise ValueError(f"unknown dataset kind {kind!r}")
    text, refused = _file_text(data, fmt=fmt, limits=limits)
    if refused is not None:
        errors.append(refused)
        return result
    columns = COLUMNS[kind]
    records = _records_jsonl(text, errors) if fmt == "jsonl" else _records_csv(text, errors, columns)
    labels: set[str] = set()
    for number, record in records:
        row, problem = _row_fields(number, record, columns)
        if row is not None:
            problem = _row_size_error(number, row, kind=kind, limits=limits, count_tokens=count_tokens)
        if problem is not None:
            errors.append(problem)
        else:
            if kind == CLASSIFIER:
                labels.add(row["label"])
            result.rows.append(row)
            result.lines.append(number)
        if len(errors) >= MAX_ERRORS:
            errors.append(RowError(0, f"stopped after {MAX_ERRORS} errors; fix these first"))
            return result
        if len(result.rows) > limits.max_rows:
            errors.append(RowError(number, f"more than {limits.max_rows:,} rows"))
            return result
    if not errors:
        errors.extend(_whole_file_errors(result.rows, labels, kind=kind, limits=limits))
    result.labels = sorted(labels)
    return result


def load_builtin(slug: str, *, limits: Limits | None = None) -> ParsedDataset:
    dataset = BUILTINS[slug]
    return parse_dataset(dataset.path.read_bytes(), fmt=detect_format(dataset.filename), kind=dataset.kind,
                         limits=limits)


def split_rows(rows: list, *, eval_fraction: float, seed: int = 0) -> tuple[list, list]:
    """A deterministic train / held-out split; at least one row on each side."""
    import random

    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)  # noqa: S311  (a reproducible split, not security)
    n_eval = min(max(1, round(len(rows) * eval_fraction)), len(rows) - 1)
    held = set(order[:n_eval])
    train = [r for i, r in enumerate(rows) if i not in held]
    evaluation = [r for i, r in enumerate(rows) if i in held]
    return train, evaluation


def token_counter(model_folder: str | Path) -> Callable[[str], int]:
    """Count tokens with the model's own tokenizer.json (the `tokenizers` library: no torch)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(model_folder) / "tokenizer.json"))
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)
