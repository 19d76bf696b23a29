"""The one normalisation, the personal-number masks and the reader's line numbers (no database)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import FeedUnreadable
from core.redact import mask_personal_numbers
from etl import normalise
from etl.read import read_csv, read_xlsx

FW = {ord(c): ord(c) + 0xFEE0 for c in "0123456789X"}


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("身份证331122194708153627", "身份证3311**********3627"),
        ("id 33112219600303044x ok", "id 3311**********044x ok"),
        ("old 331122470815362", "old 3311*******5362"),
        ("grouped 331122 19470815 3627", "grouped 3311************3627"),
        ("电话13538808690。", "电话135****8690。"),
        ("+86 138-1234-5678", "+86 138-****-5678"),
        ("座机0571-87654321", "座机0571-******21"),
        # Not personal numbers: household, village, claim numbers, dates, amounts.
        ("H3311220000001 331122101201 MC2024060000001", None),
        ("2024-06-03T10:08:52 1329.34 20240603", None),
    ],
)
def test_personal_numbers_are_masked_in_text(text: str, masked: str | None) -> None:
    assert mask_personal_numbers(text) == (masked or text)


def test_full_width_ids_are_masked_and_prose_keeps_its_punctuation() -> None:
    text = "帮扶：身份证" + "331122194708153627".translate(FW) + "，已登记。"
    masked = mask_personal_numbers(text)
    assert masked.startswith("帮扶：身份证") and masked.endswith("，已登记。")
    assert "**********" in masked and "１９４７" not in masked


@given(st.text(alphabet="0123456789 -，。Xx号H", max_size=40))
def test_masking_never_lengthens_and_leaves_no_id(text: str) -> None:
    masked = mask_personal_numbers(text)
    assert len(masked) <= len(text) + 0
    assert mask_personal_numbers(masked) == masked  # idempotent: nothing left to mask


def test_text_is_nfkc_and_trimmed_except_prose() -> None:
    values = pd.Series(["３３１１", " 陈秀英\u3000", "Ｈ１", "走访，了解", "abc"])
    out, changed = normalise.text(values)
    assert out.tolist() == ["3311", "陈秀英", "H1", "走访,了解", "abc"]
    assert changed.tolist() == [True, True, True, True, False]
    prose, _ = normalise.text(values, prose=True)
    assert prose.tolist()[3] == "走访，了解"


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("1,234.50", "1234.50"),
        ("¥1234.5元", "1234.5"),
        ("-1,000", "-1000"),
        ("12", "12"),
        ("1.2万", "1.2万"),  # not guessed: rejected as not a number
        ("1,23", "1,23"),  # not a thousands separator
    ],
)
def test_amounts_lose_currency_and_thousands_separators(raw: str, number: str) -> None:
    assert normalise.number(pd.Series([raw]))[0].iloc[0] == number


def test_csv_lines_are_physical_and_blank_rows_skipped(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(
        b'a ,b\r\n1,"x\r\ny"\r\n\r\n,\r\n2,"say ""hi"""\r\n3,z'  # no final newline
    )
    raw = read_csv(path, ["a", "b"])
    assert raw.frame["a"].tolist() == ["1", "2", "3"]
    assert raw.frame["_line"].tolist() == [2, 6, 7]
    assert raw.blank_rows == 2
    assert raw.unterminated


def test_xlsx_blank_rows_and_date_cells(tmp_path: Path) -> None:
    import datetime as dt

    path = tmp_path / "f.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["a", "b "])
    ws.append(["1", dt.date(2024, 6, 3)])
    ws.append([None, None])
    ws.append(["", " "])
    ws.append(["２", dt.datetime(2024, 6, 3, 10, 5)])
    wb.save(path)
    raw = read_xlsx(path, ["a", "b"])
    assert raw.frame.to_dict("list") == {
        "a": ["1", "2"],
        "b": ["2024-06-03", "2024-06-03T10:05:00"],
        "_line": [2, 5],
    }
    assert raw.blank_rows == 2 and raw.excel_dates == 2


def test_a_gbk_line_in_a_utf8_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    lines = ["a,b", "1,陈秀英", "2,王芳", "3,李明"]
    path.write_bytes("\n".join(lines[:3]).encode() + b"\n" + lines[3].encode("gbk") + b"\n")
    with pytest.raises(FeedUnreadable, match="line 4 is not UTF-8"):
        read_csv(path, ["a", "b"])
    path.write_bytes("\n".join(lines).encode("gbk") + b"\n")
    assert read_csv(path, ["a", "b"]).encoding == "gbk"
