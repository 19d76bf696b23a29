"""Static SQL of the derive step, kept in ``etl/sql/*.sql`` and split into statements."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

# Statements end with a semicolon at the end of a line followed by a blank line.
_SPLIT = re.compile(r";\s*\n\s*\n")


@cache
def statements(name: str) -> tuple[str, ...]:
    """The statements of ``etl/sql/<name>.sql``, comments kept, in order."""
    text = (resources.files("etl") / "sql" / f"{name}.sql").read_text("utf-8")
    parts = [part.strip() for part in _SPLIT.split(text.strip().rstrip(";"))]
    return tuple(part for part in parts if part and not _only_comments(part))


def _only_comments(part: str) -> bool:
    return all(line.strip().startswith("--") or not line.strip() for line in part.splitlines())
