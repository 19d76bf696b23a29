"""The benchmarks' one table: measure, time, rate, notes (printed as plain text, no markup)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

Row = tuple[str, str, str, str]


def print_table(title: str, rows: list[Row], width: int = 160) -> None:
    """Print ``rows`` under ``title``.

    Cells are plain text: a route such as ``/api/areas/[code]`` keeps its brackets (rich
    would read ``[code]`` as a style tag and drop it).
    """
    table = Table(title=title)
    for heading in ("measure", "time", "rate", "notes"):
        table.add_column(heading)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    Console(width=width).print(table)
