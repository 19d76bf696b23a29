"""The view as the URL carries it: area, measure, heatmap, language, month and the household.

The URL is the state of the map page: every link and click builds a new query string from a
:class:`View`, so a copied link opens the same view (deep links).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import parse_qs, urlencode

from dashboards.messages import DEFAULT_LANG, LANGS
from layers.measures import DEFAULT_MEASURE, MEASURES

#: Household ids as the ETL writes them (``H`` and digits); anything else is ignored.
_HOUSEHOLD_ID = re.compile(r"H[0-9]{6,24}")
#: A month as the URL spells it (``?month=2024-06``).
_MONTH = re.compile(r"(19|20)[0-9]{2}-(0[1-9]|1[0-2])")


def parse_month(text: str | None) -> str | None:
    """``text`` when it is a month ``YYYY-MM``, else None (the latest month is shown)."""
    return text if text and _MONTH.fullmatch(text) else None


@dataclass(frozen=True, slots=True)
class View:
    """One view of the map page."""

    area: str
    measure: str = DEFAULT_MEASURE
    heat: bool = False
    lang: str = DEFAULT_LANG
    household: str | None = None
    #: The month shown (``YYYY-MM``); None: the latest published month.
    month: str | None = None

    @classmethod
    def from_search(cls, search: str | None, default_area: str) -> View:
        """Read the view from a query string (``?area=…&layer=…&heat=1&lang=en&month=…``).

        Unknown measures, languages and malformed household ids fall back to the defaults; the
        area is checked against the database by the caller.
        """
        query = parse_qs((search or "").lstrip("?"))

        def first(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        measure = first("layer")
        lang = first("lang")
        household = first("household")
        return cls(
            area=first("area") or default_area,
            measure=measure if measure in MEASURES else DEFAULT_MEASURE,
            heat=first("heat") == "1",
            lang=lang if lang in LANGS else DEFAULT_LANG,
            household=household if household and _HOUSEHOLD_ID.fullmatch(household) else None,
            month=parse_month(first("month")),
        )

    def url(self) -> str:
        """The deep link of this view (Chinese and no household are left out)."""
        query: dict[str, str] = {"area": self.area, "layer": self.measure}
        if self.heat:
            query["heat"] = "1"
        if self.lang != DEFAULT_LANG:
            query["lang"] = self.lang
        if self.month:
            query["month"] = self.month
        if self.household:
            query["household"] = self.household
        return "/?" + urlencode(query)

    def search(self) -> str:
        """The query string of :meth:`url` (``Location.search`` starts at ``?``)."""
        return self.url()[1:]

    def to_area(self, code: str) -> View:
        """The same view of another area (a household selection does not carry over)."""
        return replace(self, area=code, household=None)

    def with_measure(self, measure: str) -> View:
        """The same view with another measure."""
        return replace(self, measure=measure)

    def with_heat(self, heat: bool) -> View:
        """The same view with the heatmap on or off."""
        return replace(self, heat=heat)

    def with_lang(self, lang: str) -> View:
        """The same view in another language."""
        return replace(self, lang=lang)

    def with_month(self, month: str | None) -> View:
        """The same view in another month (None: the latest); a household does not carry over."""
        return replace(self, month=parse_month(month), household=None)

    def with_household(self, household: str | None) -> View:
        """The same view with a household's portrait open (or closed with None)."""
        return replace(self, household=household)
