"""`make bench`: run every benchmark and print one table."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from bench import etl, load
from bench import layers as layers_bench
from bench import map as map_bench
from bench import statistics as statistics_bench


def main() -> None:
    rows: list[tuple[str, str, str, str]] = []
    url = etl.run(rows)
    etl.next_month(rows, url)
    map_bench.run(rows, url)
    load.run(rows, url)
    statistics_bench.run(rows, url)
    layers_bench.run(rows, url)
    table = Table(title="onemap benchmarks (2-core machine)")
    for heading in ("measure", "time", "rate", "notes"):
        table.add_column(heading)
    for row in rows:
        table.add_row(*row)
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
