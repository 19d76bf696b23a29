"""Jurisdiction scope: the admin-code prefix every query about areas, households or people takes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import OutOfScope

#: Natural admin-code prefixes: province 2, city 4, county 6, town 9, village 12 digits.
LEVEL_CODE_LENGTHS: dict[str, int] = {
    "province": 2,
    "city": 4,
    "county": 6,
    "town": 9,
    "village": 12,
}
LEVELS: tuple[str, ...] = tuple(LEVEL_CODE_LENGTHS)
#: ASCII digits only, the whole string (``\d`` takes full-width and Arabic-Indic digits, ``$``
#: a trailing newline).
_CODE_RE = re.compile(r"[0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12}")


def is_admin_code(code: str) -> bool:
    """Return True if ``code`` has the shape of a natural admin-code prefix."""
    return isinstance(code, str) and _CODE_RE.fullmatch(code) is not None


def level_of(code: str) -> str:
    """Return the admin level (province … village) of a natural admin-code prefix.

    Raises
    ------
    ValueError
        If ``code`` is not 2, 4, 6, 9 or 12 digits.
    """
    if not is_admin_code(code):
        raise ValueError(f"not an admin code: {code!r} (expected 2, 4, 6, 9 or 12 digits)")
    return {length: level for level, length in LEVEL_CODE_LENGTHS.items()}[len(code)]


@dataclass(frozen=True, slots=True)
class Scope:
    """The jurisdiction a query runs in: everything whose admin code starts with ``prefix``.

    Parameters
    ----------
    prefix
        A natural admin-code prefix, e.g. ``"33"`` (the province) or ``"331122"`` (缙云县).
    """

    prefix: str

    def __post_init__(self) -> None:
        if not is_admin_code(self.prefix):
            raise ValueError(f"a scope needs an admin code, got {self.prefix!r}")

    @property
    def like(self) -> str:
        """The SQL ``LIKE`` pattern matching every code inside the scope (pass as a parameter)."""
        return self.prefix + "%"

    @property
    def counties(self) -> dict[str, str]:
        """The counties inside the scope, as ``county_code >= county_low AND < county_high``.

        Text comparisons are leakproof, so an index on ``county_code`` narrows the rows before
        row-level security checks each one (a ``LIKE`` cannot: it waits for the check).
        """
        county = self.prefix[:6]
        return {"county_low": county, "county_high": county + ":"}

    def covers(self, code: str) -> bool:
        """Return True if the area ``code`` lies inside this scope."""
        return code.startswith(self.prefix)

    def sees(self, code: str) -> bool:
        """Return True if ``code`` is inside the scope or one of the scope's ancestors.

        Ancestors are visible so the breadcrumb can show where the jurisdiction sits.
        """
        return self.covers(code) or self.prefix.startswith(code)

    def require(self, code: str) -> None:
        """Raise :class:`OutOfScope` unless ``code`` lies inside this scope."""
        if not self.covers(code):
            raise OutOfScope(f"area {code} is outside scope {self.prefix}")


#: The whole province: the scope used until logins assign a narrower one.
PROVINCE_SCOPE = Scope("33")
