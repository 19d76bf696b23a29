"""Write feeds as departments send them (CSV UTF-8/GBK, XLSX) and the run's manifest."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import orjson
import pandas as pd
from openpyxl import Workbook
from pydantic import BaseModel, ConfigDict, Field

# Columns written with 6 decimals (about 0.1 m); every other float is money with 2 decimals.
COORD_COLUMNS = frozenset({"longitude", "latitude"})
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class FileFormat:
    """How one department ships its feed."""

    kind: Literal["csv", "xlsx"]
    encoding: Literal["utf-8", "utf-8-sig", "gbk"] | None = None  # CSV only; XLSX is UTF-8 XML
    newline: str = "\n"
    sheet: str = "Sheet1"
    title: str | None = None  # XLSX title row above the header; {year} and {month} filled in

    @property
    def suffix(self) -> str:
        """File name suffix."""
        return f".{self.kind}"

    @property
    def header_row(self) -> int:
        """1-based line or row number of the header."""
        return 2 if self.title else 1


FORMATS: dict[str, FileFormat] = {
    "civil_affairs_roster": FileFormat("csv", "utf-8-sig", "\r\n"),
    "income_survey": FileFormat("csv", "gbk", "\r\n"),
    "medical_claims": FileFormat("csv", "utf-8"),
    "education_enrolment": FileFormat("csv", "utf-8-sig", "\r\n"),
    "disability_registry": FileFormat(
        "xlsx", sheet="残疾人登记", title="{year}年{month}月 残疾人登记数据"
    ),
    "bank_deposits": FileFormat("csv", "utf-8"),
    "housing_appraisal": FileFormat("xlsx", sheet="房屋安全鉴定"),
    "water_safety": FileFormat("csv", "gbk", "\r\n"),
    "subsidy_ledger": FileFormat("csv", "utf-8-sig", "\r\n"),
    "official_visits": FileFormat("csv", "utf-8"),
    "disaster_events": FileFormat("csv", "utf-8"),
}


class FeedFile(BaseModel):
    """One file written by a run."""

    model_config = ConfigDict(frozen=True)

    feed: str
    path: str  # relative to the manifest's folder
    format: Literal["csv", "xlsx"]
    encoding: str | None  # None for XLSX
    header_row: int  # 1-based; 2 when a title row sits above the header
    rows: int  # data rows, duplicates included, header and title rows excluded
    defects: dict[str, int]  # rows per defect kind
    sha256: str


class SynthManifest(BaseModel):
    """What a run wrote; saved as ``manifest.json`` next to the feeds (without ``out_dir``)."""

    model_config = ConfigDict(frozen=True)

    seed: int
    month: str
    scale: Literal["demo", "full"]
    defect_rate: float
    households: int  # present this month
    people: int
    households_entered: int  # new this month
    households_exited: int  # present last month, gone this month
    files: tuple[FeedFile, ...]
    out_dir: Path = Field(exclude=True)

    def file(self, feed: str) -> FeedFile:
        """Return the file entry of a feed."""
        for entry in self.files:
            if entry.feed == feed:
                return entry
        raise KeyError(feed)

    def path(self, feed: str) -> Path:
        """Return the absolute path of a feed's file."""
        return self.out_dir / self.file(feed).path


def _csv_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Format floats up front so that every CSV shows fixed decimals and blanks stay blank."""
    out = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_float_dtype(column):
            values = column.to_numpy(dtype=float)
            digits = 6 if name in COORD_COLUMNS else 2
            text = np.char.mod(f"%.{digits}f", np.nan_to_num(values))
            out[name] = np.where(np.isnan(values), "", text)
        else:
            out[name] = column.to_numpy()
    return pd.DataFrame(out)


def _write_csv(frame: pd.DataFrame, fmt: FileFormat, path: Path, blank_row_at: int | None) -> None:
    ready = _csv_ready(frame)
    if blank_row_at is not None:  # a row of empty fields (`,,,,`): an Excel re-save's habit
        blank = pd.DataFrame([[""] * len(ready.columns)], columns=ready.columns)
        ready = pd.concat([ready.iloc[:blank_row_at], blank, ready.iloc[blank_row_at:]])
    ready.to_csv(path, index=False, encoding=fmt.encoding, lineterminator=fmt.newline, na_rep="")


def _cell_columns(frame: pd.DataFrame) -> list[list[object]]:
    """Columns as Python lists ready for openpyxl: numbers stay numbers, blanks become None."""
    columns: list[list[object]] = []
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_float_dtype(column):
            digits = 6 if name in COORD_COLUMNS else 2
            values = np.round(column.to_numpy(dtype=float), digits)
            columns.append([None if np.isnan(v) else v for v in values.tolist()])
        elif pd.api.types.is_integer_dtype(column):
            columns.append(column.to_numpy().tolist())
        else:
            columns.append([None if pd.isna(v) or v == "" else v for v in column.tolist()])
    return columns


def _repack(data: bytes, stamp: str) -> bytes:
    """Rewrite an XLSX zip with fixed timestamps so that equal content gives equal bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                # openpyxl stamps the save time; use the feed month instead.
                content = re.sub(rb"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", stamp.encode(), content)
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_EPOCH)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            dst.writestr(fixed, content)
    return buffer.getvalue()


def _write_xlsx(
    frame: pd.DataFrame,
    fmt: FileFormat,
    path: Path,
    month: str,
    rows_before: dict[int, list[object]],
) -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(fmt.sheet)
    if fmt.title:
        ws.append([fmt.title.format(year=int(month[:4]), month=int(month[5:]))])
    header = list(frame.columns)
    ws.append(header)
    for i, row in enumerate(zip(*_cell_columns(frame), strict=True)):
        if i in rows_before:  # a second export pasted under the first, a blank row
            ws.append(rows_before[i])
        ws.append(list(row))
    buffer = io.BytesIO()
    wb.save(buffer)
    path.write_bytes(_repack(buffer.getvalue(), f"{month}-01T00:00:00Z"))


def write_feed(
    frame: pd.DataFrame,
    fmt: FileFormat,
    path: Path,
    *,
    month: str,
    header_repeat_at: int | None = None,
    blank_row_at: int | None = None,
) -> str:
    """Write one feed file and return its SHA-256.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows in file order; column order is kept.
    fmt : FileFormat
        Format, encoding, line ending, and for XLSX sheet name and title row.
    path : pathlib.Path
        Destination.
    month : str
        ``YYYY-MM``: fills the title and the XLSX document dates (no wall-clock time is written).
    header_repeat_at : int, optional
        XLSX only: repeat the header before this data row (a defect the ETL must skip).
    blank_row_at : int, optional
        Leave a blank row (empty fields or cells) before this data row (the ETL skips it).

    Returns
    -------
    str
        Hex SHA-256 of the bytes written.
    """
    if fmt.kind == "csv":
        _write_csv(frame, fmt, path, blank_row_at)
    else:
        before: dict[int, list[object]] = {}
        if blank_row_at is not None:
            before[blank_row_at] = [None] * len(frame.columns)
        if header_repeat_at is not None:
            before[header_repeat_at] = list(frame.columns)  # the header wins a shared place
        _write_xlsx(frame, fmt, path, month, before)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_manifest(manifest: SynthManifest) -> Path:
    """Write ``manifest.json`` (sorted keys, no wall-clock time) into the manifest's folder."""
    path = manifest.out_dir / "manifest.json"
    payload = manifest.model_dump(mode="json")
    path.write_bytes(
        orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    )
    return path
