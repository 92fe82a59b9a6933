"""Cells that are safe to open in a spreadsheet (OWASP's "CSV injection" rule).

A cell that starts with =, +, -, @, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula, so a name typed as `=cmd|' /C calc'!A0`
would run on the manager's machine. Such a cell gets a leading apostrophe, which
spreadsheets show as plain text; numbers (not strings) are left as they are.
"""

import csv
from collections.abc import Iterable
from itertools import chain

from django.http import StreamingHttpResponse
from django.utils import timezone

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(row: Iterable) -> list:
    """Every CSV row we hand out goes through here."""
    return [safe_cell(value) for value in row]


class _Echo:
    """A file whose write returns the line, so csv.writer yields rows as they are made."""

    def write(self, value):
        return value


def csv_response(rows: Iterable[list], *, name: str, bom: bool = False) -> StreamingHttpResponse:
    """Stream `rows` (already made safe) as a CSV download named `name-<time>.csv`. A BOM
    lets spreadsheets open non-Latin text (Chinese) as UTF-8."""
    writer = csv.writer(_Echo())
    lines = (writer.writerow(row) for row in rows)
    response = StreamingHttpResponse(chain(["\ufeff"] if bom else [], lines), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    return response
