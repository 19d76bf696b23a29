"""`make bench`: run every benchmark and print one table."""

from __future__ import annotations

from bench import etl, load
from bench import layers as layers_bench
from bench import map as map_bench
from bench import statistics as statistics_bench
from bench.report import print_table


def main() -> None:
    rows: list[tuple[str, str, str, str]] = []
    url = etl.run(rows)
    etl.next_month(rows, url)
    map_bench.run(rows, url)
    load.run(rows, url)
    statistics_bench.run(rows, url)
    layers_bench.run(rows, url)
    print_table("onemap benchmarks (2-core machine)", rows)


if __name__ == "__main__":
    main()
