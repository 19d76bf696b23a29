"""Read a department file (CSV in UTF-8 or GBK, or XLSX) into text columns with line numbers."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from geo.errors import FeedUnreadable

#: Column holding each row's line (CSV) or row number (XLSX) in the file, for quarantine.
LINE = "_line"
#: Rows searched for the header in an XLSX (title rows sit above it).
_HEADER_SEARCH_ROWS = 10


@dataclass(frozen=True, slots=True)
class RawFeed:
    """A file's rows as text, before validation."""

    path: Path
    file_format: str
    encoding: str | None
    frame: pd.DataFrame
    header_row: int
    repeated_headers: int


def _decode(path: Path, data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        # GB18030 is a superset of GBK: it reads every GBK file the departments send.
        return data.decode("gb18030"), "gbk"
    except UnicodeDecodeError as error:
        raise FeedUnreadable(
            path.name, f"cannot decode as UTF-8 or GBK (byte {error.start})"
        ) from error


def _require_columns(path: Path, found: Sequence[str], expected: Iterable[str]) -> None:
    missing = [c for c in expected if c not in found]
    if missing:
        raise FeedUnreadable(
            path.name,
            f"wrong columns: missing {', '.join(missing)} (found {', '.join(map(str, found))})",
        )


def read_csv(path: Path, expected: Sequence[str]) -> RawFeed:
    """Read a CSV file, detecting UTF-8 (with or without BOM) or GBK.

    Raises
    ------
    FeedUnreadable
        If the file cannot be decoded or parsed, lacks expected columns or is truncated.
    """
    data = path.read_bytes()
    if not data.strip():
        raise FeedUnreadable(path.name, "the file is empty")
    text, encoding = _decode(path, data)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skipinitialspace=False,
        )
    except (pd.errors.ParserError, ValueError) as error:
        raise FeedUnreadable(path.name, f"not a readable CSV: {error}") from error
    _require_columns(path, list(frame.columns), expected)
    frame = frame.fillna("")
    # A cut-off file: the last line has no line break and is missing fields.
    if len(frame) and not text.endswith(("\n", "\r")):
        last = text.rsplit("\n", 1)[-1]
        if last.count(",") < len(frame.columns) - 1:
            raise FeedUnreadable(
                path.name, f"the file is truncated: line {len(frame) + 1} is incomplete"
            )
    frame[LINE] = pd.RangeIndex(2, len(frame) + 2)
    return RawFeed(path, "csv", encoding, frame, 1, 0)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(value, ".10g")
    return str(value).strip()


def read_xlsx(path: Path, expected: Sequence[str]) -> RawFeed:
    """Read the first sheet of an XLSX file.

    Title rows above the header and repeated header rows among the data are skipped.

    Raises
    ------
    FeedUnreadable
        If the file is not a valid workbook or no header with the expected columns is found.
    """
    import openpyxl  # noqa: PLC0415 — only XLSX feeds need it
    from openpyxl.utils.exceptions import InvalidFileException  # noqa: PLC0415

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as error:
        raise FeedUnreadable(path.name, f"not a readable XLSX workbook: {error}") from error
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header: list[str] | None = None
        header_row = 0
        for number, row in enumerate(rows, start=1):
            cells = [_cell_text(v) for v in row]
            if set(expected) <= set(cells):
                header, header_row = cells, number
                break
            if number >= _HEADER_SEARCH_ROWS:
                break
        if header is None:
            raise FeedUnreadable(
                path.name,
                f"wrong columns: no row among the first {_HEADER_SEARCH_ROWS} holds "
                f"{', '.join(expected)}",
            )
        width = len(header)
        records: list[list[str]] = []
        lines: list[int] = []
        repeated = 0
        for number, row in enumerate(rows, start=header_row + 1):
            cells = [_cell_text(v) for v in row][:width]
            cells += [""] * (width - len(cells))
            if not any(cells):
                continue
            if cells == header:
                repeated += 1
                continue
            records.append(cells)
            lines.append(number)
    except zipfile.BadZipFile as error:
        raise FeedUnreadable(path.name, f"the workbook is damaged: {error}") from error
    finally:
        workbook.close()
    frame = pd.DataFrame(records, columns=header, dtype=str)
    frame[LINE] = lines
    return RawFeed(path, "xlsx", None, frame, header_row, repeated)


def read_feed(path: Path, expected: Sequence[str]) -> RawFeed:
    """Read a CSV or XLSX department file by its extension."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv(path, expected)
    if suffix == ".xlsx":
        return read_xlsx(path, expected)
    raise FeedUnreadable(path.name, f"unsupported file type {suffix!r} (expected .csv or .xlsx)")
