"""CSV for spreadsheets: every export goes through ``writer`` so no cell can run as a formula.

A cell a spreadsheet would read as a formula (``=HYPERLINK(…)``, ``+``, ``-``, ``@``, or one starting with a
tab or carriage return) gets a leading apostrophe, as OWASP advises for CSV injection; the text stays
readable and is shown as typed. Numbers pass unchanged, so a negative count stays a number.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class _Writer:
    def __init__(self, out: TextIO):
        self._writer = csv.writer(out)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out: TextIO) -> _Writer:
    """Like ``csv.writer``, with formula cells neutralised."""
    return _Writer(out)
