"""The Month value type: strict parsing and calendar arithmetic (property tests)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import InvalidMonth
from core.month import Month

months = st.builds(Month, st.integers(1900, 2200), st.integers(1, 12))


@given(months)
def test_text_round_trips(month: Month) -> None:
    assert Month.parse(str(month)) == month
    assert len(str(month)) == 7


@given(months, st.integers(-600, 600))
def test_shift_matches_the_calendar(month: Month, steps: int) -> None:
    shifted = month.shift(steps)
    assert (shifted.year * 12 + shifted.number) - (month.year * 12 + month.number) == steps
    assert shifted.shift(-steps) == month


@given(months)
def test_next_and_previous_are_neighbours(month: Month) -> None:
    assert month.next().previous() == month
    assert month.next().first_day == month.last_day + dt.timedelta(days=1)
    assert month < month.next()
    assert list(month)[-1] == month.last_day
    assert all(month.contains(day) for day in month)


@given(st.dates(dt.date(1900, 1, 1), dt.date(2200, 12, 31)))
def test_a_date_belongs_to_its_month(day: dt.date) -> None:
    month = Month.coerce(day)
    assert month.first_day <= day <= month.last_day


def test_range_includes_both_ends() -> None:
    assert [str(m) for m in Month.range(Month.parse("2024-11"), Month.parse("2025-02"))] == [
        "2024-11",
        "2024-12",
        "2025-01",
        "2025-02",
    ]
    assert Month.range(Month.parse("2024-06"), Month.parse("2024-05")) == []


@pytest.mark.parametrize(
    "text",
    ["2024-6", "2024-13", "2024-00", "24-06", "2024-06\n", " 2024-06", "２０２４-06", "2024/06"],
)
def test_anything_but_yyyy_mm_is_refused(text: str) -> None:
    with pytest.raises(InvalidMonth, match="YYYY-MM"):
        Month.parse(text)
    with pytest.raises(ValueError):  # still a ValueError for callers that catch that
        Month.parse(text)
