"""Read a department file (CSV in UTF-8 or GBK, or XLSX) into normalised text with line numbers.

Both formats end the same way: every value normalised (:mod:`etl.normalise`), blank rows
skipped and counted, each row carrying the physical line (CSV) or sheet row (XLSX) it came
from, so that the quarantine points where a person looking at the file would look.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from pyarrow import csv as pa_csv

from core.errors import FeedUnreadable
from etl import normalise

#: Column holding each row's physical line (CSV) or sheet row (XLSX), for quarantine.
LINE = "_line"
#: Rows searched for the header in an XLSX (title rows sit above it).
_HEADER_SEARCH_ROWS = 10
_BOM = b"\xef\xbb\xbf"
#: Non-ASCII lines seen before a file that is not UTF-8 is taken for GBK (see _encoding).
_GBK_EVIDENCE = 100
_HANZI = re.compile("[\u4e00-\u9fff]")


@dataclass(frozen=True, slots=True)
class RawFeed:
    """A file's rows as normalised text, before validation."""

    path: Path
    file_format: str
    encoding: str | None
    frame: pd.DataFrame
    header_row: int
    repeated_headers: int
    #: Blank rows (empty lines, rows of empty fields or cells), skipped in both formats.
    blank_rows: int = 0
    #: CSV: the file's last line has no line break (a cut upload, or an editor's habit).
    unterminated: bool = False
    #: Per column, the rows whose value NFKC changed (full-width digits, letters, punctuation).
    widened: dict[str, pd.Series] = field(default_factory=dict)
    #: XLSX: rows with a date cell turned into ``YYYY-MM-DD``.
    excel_dates: int = 0


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _encoding(path: Path, data: bytes) -> str:
    """Tell UTF-8 (with or without BOM) from GBK, as departments send both.

    A file that is UTF-8 except for some lines (a GBK line pasted in) stops the run naming
    the first such line: decoding it either way would store garbage.
    """
    body = data[3:] if data.startswith(_BOM) else data
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        bad_line = _line_of(data, error.start + len(data) - len(body))
    else:
        _refuse_gbk_lines(path, body)
        return "utf-8-sig" if body is not data else "utf-8"
    utf8 = other = 0
    for line in body.split(b"\n"):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8 += 1
        except UnicodeDecodeError:
            other += 1
            if other >= _GBK_EVIDENCE and other > 10 * utf8:
                break
    if body is not data or utf8 > other:
        raise FeedUnreadable(
            path.name,
            f"line {bad_line} is not UTF-8 (GBK?) while the rest of the file is UTF-8: "
            "save the whole file in one encoding",
        )
    try:
        # GB18030 is a superset of GBK: it reads every GBK file the departments send.
        data.decode("gb18030")
    except UnicodeDecodeError as error:
        raise FeedUnreadable(
            path.name, f"line {_line_of(data, error.start)} cannot be decoded as UTF-8 or GBK"
        ) from error
    return "gbk"


def _refuse_gbk_lines(path: Path, body: bytes) -> None:
    """Stop on a GBK line that happens to be valid UTF-8 (it would load as garbage).

    In valid UTF-8 a byte C4–DF only leads a 2-byte character of U+0100–U+07FF (scripts no
    department writes); Chinese text never has one. Such a line that reads as Chinese in GBK
    is a GBK line.
    """
    buf = np.frombuffer(body, dtype=np.uint8)
    seen = -1
    for position in np.flatnonzero((buf >= 0xC4) & (buf <= 0xDF)).tolist():
        if position <= seen:
            continue
        start = body.rfind(b"\n", 0, position) + 1
        end = body.find(b"\n", position)
        seen = end if end >= 0 else len(body)
        line = body[start : end if end >= 0 else len(body)]
        try:
            as_gbk = line.decode("gb18030")
        except UnicodeDecodeError:
            continue
        if _HANZI.search(as_gbk):
            raise FeedUnreadable(
                path.name,
                f"line {_line_of(body, start)} is not UTF-8 (GBK?) while the rest of the file is"
                " UTF-8: save the whole file in one encoding",
            )


def _require_columns(path: Path, found: Sequence[str], expected: Iterable[str]) -> None:
    missing = [c for c in expected if c not in found]
    if missing:
        raise FeedUnreadable(
            path.name,
            f"wrong columns: missing {', '.join(missing)} (found {', '.join(map(str, found))})",
        )


def _record_lines(body: bytes) -> tuple[np.ndarray, int]:
    r"""Physical line where each data record starts, and the count of empty lines skipped.

    A record ends at a line break outside double quotes (RFC 4180: quotes inside a quoted
    field are doubled, so the parity of the quotes before a line break tells). ``"`` and
    ``\\n`` never occur inside a multi-byte UTF-8 or GBK character.
    """
    buf = np.frombuffer(body, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 0x0A)
    quotes = np.flatnonzero(buf == 0x22)
    ends = newlines[np.searchsorted(quotes, newlines) % 2 == 0] if quotes.size else newlines
    starts = np.concatenate([[0], ends + 1])
    stops = np.concatenate([ends, [buf.size]])
    if stops[-1] == starts[-1]:  # nothing after the final line break
        starts, stops = starts[:-1], stops[:-1]
    length = stops - starts
    first = buf[np.minimum(starts, max(buf.size - 1, 0))] if buf.size else np.zeros(0, np.uint8)
    empty = (length == 0) | ((length == 1) & (first == 0x0D))
    lines = np.searchsorted(newlines, starts) + 1
    data = slice(1, None)  # record 0 is the header
    return lines[data][~empty[data]], int(empty[data].sum())


def _python_lines(text: str) -> tuple[np.ndarray, int]:
    """The same as :func:`_record_lines` with the csv module (odd quoting: slow but sure)."""
    reader = csv.reader(io.StringIO(text))
    next(reader, None)
    lines, blank, start = [], 0, reader.line_num + 1
    for row in reader:
        if row:
            lines.append(start)
        else:
            blank += 1
        start = reader.line_num + 1
    return np.asarray(lines, dtype=np.int64), blank


def _finish(
    path: Path, frame: pd.DataFrame, expected: Sequence[str], *, prose: frozenset[str]
) -> tuple[pd.DataFrame, dict[str, pd.Series], int]:
    """Normalise every expected column; drop blank rows (all expected fields empty)."""
    widened: dict[str, pd.Series] = {}
    for name in expected:
        frame[name], changed = normalise.text(frame[name], prose=name in prose)
        if changed.any():
            widened[name] = changed
    blank = (frame[list(expected)] == "").all(axis=1)
    if blank.any():
        frame = frame[~blank].reset_index(drop=True)
        widened = {k: v[~blank].reset_index(drop=True) for k, v in widened.items()}
    return frame, widened, int(blank.sum())


def read_csv(
    path: Path, expected: Sequence[str], *, prose: frozenset[str] = frozenset()
) -> RawFeed:
    """Read a CSV file, detecting UTF-8 (with or without BOM) or GBK.

    Every column is read as text (IDs and codes keep their leading digits); Arrow's reader
    does the parsing (about 7x faster than pandas').

    Raises
    ------
    FeedUnreadable
        If the file cannot be decoded or parsed, lacks expected columns or is truncated.
    """
    data = path.read_bytes()
    if not data.strip():
        raise FeedUnreadable(path.name, "the file is empty")
    encoding = _encoding(path, data)
    body = data[3:] if encoding == "utf-8-sig" else data
    codec = "gb18030" if encoding == "gbk" else "utf-8"
    header = body.split(b"\n", 1)[0].decode(codec)
    names = [normalise.header_name(name) for name in header.rstrip("\r").split(",")]
    _require_columns(path, names, expected)
    try:
        table = pa_csv.read_csv(
            io.BytesIO(body),
            read_options=pa_csv.ReadOptions(
                encoding="gb18030" if encoding == "gbk" else "utf8",
                column_names=names,
                skip_rows=1,
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        problem = str(error)
        if not data.endswith((b"\n", b"\r")):
            problem = f"the file is truncated (its last line is incomplete): {problem}"
        raise FeedUnreadable(path.name, f"not a readable CSV: {problem}") from error
    lines, empty_lines = _record_lines(body)
    if lines.size != table.num_rows:
        lines, empty_lines = _python_lines(body.decode(codec))
    frame = table.to_pandas()
    frame[LINE] = lines
    frame, widened, blank = _finish(path, frame, expected, prose=prose)
    unterminated = not data.endswith(b"\n") and len(frame) > 0
    return RawFeed(path, "csv", encoding, frame, 1, 0, blank + empty_lines, unterminated, widened)


def _cell_text(value: object) -> tuple[str, bool]:
    """An XLSX cell as text; date cells as ``YYYY-MM-DD`` (with the time when it is not 0:00)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "", False
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat(), True
        return value.isoformat(timespec="seconds"), True
    if isinstance(value, dt.date):
        return value.isoformat(), True
    if isinstance(value, bool):
        return str(value), False
    return str(value), False


def read_xlsx(
    path: Path, expected: Sequence[str], *, prose: frozenset[str] = frozenset()
) -> RawFeed:
    """Read the first sheet of an XLSX file (with calamine: ~15x faster than openpyxl).

    Title rows above the header and repeated header rows among the data are skipped; date
    cells become ``YYYY-MM-DD`` text, as in the CSV feeds.

    Raises
    ------
    FeedUnreadable
        If the file is not a valid workbook or no header with the expected columns is found.
    """
    from python_calamine import CalamineError  # noqa: PLC0415 — only XLSX feeds need it

    try:
        sheet = pd.read_excel(
            path,
            engine="calamine",
            header=None,
            dtype=object,
            keep_default_na=False,
            na_filter=False,
        )
    except (CalamineError, zipfile.BadZipFile, ValueError, OSError) as error:
        raise FeedUnreadable(path.name, f"not a readable XLSX workbook: {error}") from error
    dated = pd.Series(False, index=sheet.index)
    cells: dict[object, list[str]] = {}
    for column in sheet.columns:
        pairs = [_cell_text(v) for v in sheet[column].tolist()]
        cells[column] = [text for text, _ in pairs]
        dated |= pd.Series([is_date for _, is_date in pairs], index=sheet.index)
    texts = pd.DataFrame(cells, index=sheet.index, dtype="str")
    top = texts.head(_HEADER_SEARCH_ROWS).map(normalise.header_name)
    matches = [i for i, row in enumerate(top.itertuples(index=False)) if set(expected) <= set(row)]
    if not matches:
        raise FeedUnreadable(
            path.name,
            f"wrong columns: no row among the first {_HEADER_SEARCH_ROWS} holds "
            f"{', '.join(expected)}",
        )
    header_at = matches[0]
    header = list(top.iloc[header_at])
    body = texts.iloc[header_at + 1 :].copy()
    body.columns = header
    body = body.loc[:, [c for c in header if c]]
    # Sheet row numbers (1-based) as Excel shows them, for the quarantine.
    body[LINE] = body.index + 1
    # A repeated header row names every expected column; the first column picks the candidates
    # (normalising every cell of a large sheet cost more than reading it).
    first = body[expected[0]].map(normalise.header_name) == expected[0]
    repeated = pd.Series(False, index=body.index)
    if first.any():
        candidates = body.loc[first, list(expected)].map(normalise.header_name)
        repeated[first] = (candidates == pd.Series(expected, index=list(expected))).all(axis=1)
    excel_dates = int((dated.loc[body.index] & ~repeated).sum())
    frame = body[~repeated].reset_index(drop=True)
    frame, widened, blank = _finish(path, frame, expected, prose=prose)
    return RawFeed(
        path,
        "xlsx",
        None,
        frame,
        header_at + 1,
        int(repeated.sum()),
        blank,
        False,
        widened,
        excel_dates,
    )


def read_feed(
    path: Path, expected: Sequence[str], *, prose: frozenset[str] = frozenset()
) -> RawFeed:
    """Read a CSV or XLSX department file by its extension."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv(path, expected, prose=prose)
    if suffix == ".xlsx":
        return read_xlsx(path, expected, prose=prose)
    raise FeedUnreadable(path.name, f"unsupported file type {suffix!r} (expected .csv or .xlsx)")
