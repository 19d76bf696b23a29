"""The data month: how a month travels through onemap (feeds, partitions, rollups, URLs)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

from core.errors import InvalidMonth

_MONTH_RE = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


@dataclass(frozen=True, order=True, slots=True)
class Month:
    """A calendar month, written ``YYYY-MM``; stored in the database as its first day.

    Parameters
    ----------
    year
        The year, 1–9999.
    number
        The month of the year, 1–12.
    """

    year: int
    number: int

    def __post_init__(self) -> None:
        if not (1 <= self.year <= 9999 and 1 <= self.number <= 12):
            raise InvalidMonth(f"{self.year:04d}-{self.number:02d}")

    @classmethod
    def parse(cls, text: str) -> Month:
        """Read ``YYYY-MM`` strictly (ASCII digits, zero-padded, nothing around it).

        Raises
        ------
        InvalidMonth
            If ``text`` is anything else, e.g. ``"2024-6"`` or ``"2024-06"`` with a newline.
        """
        match = _MONTH_RE.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise InvalidMonth(text)
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def coerce(cls, value: Month | str | dt.date) -> Month:
        """The month of ``value``: a Month, a ``YYYY-MM`` string, or any date inside it."""
        if isinstance(value, Month):
            return value
        if isinstance(value, dt.date):
            return cls(value.year, value.month)
        return cls.parse(value)

    @classmethod
    def range(cls, first: Month, last: Month) -> list[Month]:
        """Every month from ``first`` to ``last``, both included (empty if ``last < first``)."""
        months: list[Month] = []
        month = first
        while month <= last:
            months.append(month)
            month = month.next()
        return months

    @property
    def first_day(self) -> dt.date:
        """The first day: how the month is keyed in the database."""
        return dt.date(self.year, self.number, 1)

    @property
    def last_day(self) -> dt.date:
        """The last day of the month."""
        return self.next().first_day - dt.timedelta(days=1)

    def contains(self, day: dt.date) -> bool:
        """Whether ``day`` falls inside this month."""
        return (day.year, day.month) == (self.year, self.number)

    def shift(self, months: int) -> Month:
        """The month ``months`` later (earlier if negative)."""
        index = self.year * 12 + self.number - 1 + months
        return Month(index // 12, index % 12 + 1)

    def next(self) -> Month:
        """The following month."""
        return self.shift(1)

    def previous(self) -> Month:
        """The month before."""
        return self.shift(-1)

    def __iter__(self) -> Iterator[dt.date]:
        """Every day of the month."""
        day = self.first_day
        while day.month == self.number:
            yield day
            day += dt.timedelta(days=1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.number:02d}"
