"""Cells that are safe to open in a spreadsheet (OWASP's "CSV injection" rule).

A cell that starts with =, +, -, @, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula, so a name typed as `=cmd|' /C calc'!A0`
would run on the manager's machine. Such a cell gets a leading apostrophe, which
spreadsheets show as plain text; numbers (not strings) are left as they are.
"""

from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(row: Iterable) -> list:
    """Every CSV row we hand out goes through here."""
    return [safe_cell(value) for value in row]
