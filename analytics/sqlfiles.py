"""Static SQL of the derive step, kept in ``analytics/sql/*.sql`` and split into statements.

Derived tables are named by placeholders (``{benefit}``) so a run can write a month into its
own fresh tables before publishing them; literal braces in the files are doubled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from importlib import resources

from psycopg import sql

# Statements end with a semicolon at the end of a line followed by a blank line.
_SPLIT = re.compile(r";\s*\n\s*\n")

#: The tables the derive step writes, one partition per month.
DERIVED_TABLES = (
    "household_features",
    "member_features",
    "benefit",
    "warning_month",
    "supervision_finding",
    "supervision_official",
    "rollup",
)
#: Each derived table under its own name: the published tables.
PUBLISHED = {table: table for table in DERIVED_TABLES}


@cache
def statements(name: str) -> tuple[str, ...]:
    """The statements of ``analytics/sql/<name>.sql``, comments kept, in order (unformatted)."""
    text = (resources.files("analytics") / "sql" / f"{name}.sql").read_text("utf-8")
    parts = [part.strip() for part in _SPLIT.split(text.strip().rstrip(";"))]
    return tuple(part for part in parts if part and not _only_comments(part))


def composed(
    name: str, tables: Mapping[str, str] = PUBLISHED, **fragments: sql.Composable
) -> tuple[sql.Composed, ...]:
    """The statements of ``analytics/sql/<name>.sql`` with derived tables named by ``tables``.

    ``fragments`` fill other placeholders with SQL built by our own code (never user text).
    """
    names = {table: sql.Identifier(tables[table]) for table in DERIVED_TABLES}
    return tuple(
        sql.SQL(statement).format(**names, **fragments)  # static SQL from our own files
        for statement in statements(name)
    )


def _only_comments(part: str) -> bool:
    return all(line.strip().startswith("--") or not line.strip() for line in part.splitlines())
