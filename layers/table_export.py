"""Tables as downloads: XLSX (openpyxl) and CSV with the same cells, marked as synthetic data."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font

from core.errors import BEIJING

#: Said in every download: the household data behind these figures is synthetic.
SYNTHETIC_NOTE = "合成数据 · synthetic data (onemap)"
FORMATS = ("xlsx", "csv")


def _cell(value: object) -> object:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and pd.isna(value):
        return None
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        # Excel has no time zones: an instant is written as Beijing wall time (headers say so).
        instant = value.to_pydatetime() if isinstance(value, pd.Timestamp) else value
        return instant.astimezone(BEIJING).replace(tzinfo=None)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def xlsx_bytes(sheets: Mapping[str, pd.DataFrame], headers: Mapping[str, str]) -> bytes:
    """A workbook with one sheet per table and a last sheet saying the data is synthetic.

    ``headers`` maps column names to the labels written in row 1 (the column name otherwise);
    the cells are the frame's values as they are (suppressed counts stay ``"<5"``), but for
    instants (time-zone aware), which Excel cannot hold: they are written in UTC+8, zone dropped.
    """
    book = Workbook()
    book.remove(book.active)
    for title, frame in sheets.items():
        sheet = book.create_sheet(title[:31])
        sheet.append([headers.get(str(c), str(c)) for c in frame.columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in frame.itertuples(index=False):
            sheet.append([_cell(v) for v in row])
    about = book.create_sheet("about")
    about.append([SYNTHETIC_NOTE])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def csv_bytes(frame: pd.DataFrame, headers: Mapping[str, str]) -> bytes:
    """The table as UTF-8 CSV (with a BOM, so spreadsheet programs read the Chinese right).

    The first line is a comment saying the data is synthetic (``pandas.read_csv(comment="#")``).
    """
    body = frame.rename(columns={c: headers.get(str(c), str(c)) for c in frame.columns})
    return ("\ufeff# " + SYNTHETIC_NOTE + "\n" + body.to_csv(index=False)).encode("utf-8")
