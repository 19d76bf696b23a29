"""The audit page's rows as a download: CSV (UTF-8 with BOM, for spreadsheet programs) or XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from typing import Any

from openpyxl import Workbook

from core.errors import BEIJING
from dashboards.messages import t

#: The columns, as message ids of the audit page.
COLUMNS = ("at", "user", "role", "scope", "route", "area", "households", "request")


def audit_table(
    rows: Sequence[Any], lang: str, action: Callable[[Any], str]
) -> tuple[list[str], list[list[str]]]:
    """Headers and cells in ``lang``: times in Beijing time, actions in words, every household."""
    headers = ["#", *(t(f"audit.col.{c}", lang) for c in COLUMNS)]
    cells = [
        [
            str(row.id),
            f"{row.at.astimezone(BEIJING):%Y-%m-%d %H:%M:%S}",
            row.username,
            t(f"role.{row.role}", lang),
            row.scope,
            action(row),
            row.area or "",
            " ".join(row.household_ids),
            row.request_id,
        ]
        for row in rows
    ]
    return headers, cells


def csv_bytes(headers: list[str], cells: list[list[str]]) -> bytes:
    """A CSV file; the BOM lets spreadsheet programs read the Chinese as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(cells)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def xlsx_bytes(headers: list[str], cells: list[list[str]], note: str) -> bytes:
    """An XLSX workbook: the rows, and a sheet saying the household data is synthetic."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "audit"
    sheet.append(headers)
    for row in cells:
        sheet.append(row)
    sheet.freeze_panes = "A2"
    about = book.create_sheet("about")
    about.append([note])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
