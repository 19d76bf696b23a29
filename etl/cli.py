"""`onemap etl run`: validate, pseudonymise, geocode, load and publish a month of feeds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from core import db
from core.settings import get_settings
from core.terminal import cli_console
from etl.feedspec import FEEDS

if TYPE_CHECKING:
    from etl.run import RunResult

# The heavy modules (pandas, Arrow, shapely, rasterio) are imported by the verbs that use
# them, so `onemap db status` stays instant.

console = cli_console()
#: What `etl run --derive` does once a month is published (set by `onemap.cli`: deriving is
#: analytics' verb, and etl must not import analytics).
_after_publish: list[Callable[[str], None]] = []


#: Where `etl run` gets the policy catalog's codes (set by `onemap.cli`: the catalog belongs
#: to analytics, which etl must not import).
_policy_codes: list[Callable[[], frozenset[str]]] = []


def set_after_publish(step: Callable[[str], None]) -> None:
    """Run ``step(month)`` after every month `onemap etl run` publishes (unless --no-derive)."""
    _after_publish[:] = [step]


def set_policy_codes(source: Callable[[], frozenset[str]]) -> None:
    """Take the valid subsidy policy codes from ``source()`` (the policy catalog)."""
    _policy_codes[:] = [source]


etl_app = typer.Typer(
    help="Department feeds → validated, pseudonymised, geocoded, loaded.", no_args_is_help=True
)


def print_report(result: RunResult) -> None:
    """Print the per-feed accounting of a run."""
    table = Table(title=f"ETL {result.month}: {result.status} (run {result.run_id})")
    for heading in (
        "feed",
        "file",
        "encoding",
        "read",
        "loaded",
        "quarantined",
        "merged",
        "skipped",
        "fixed",
        "s",
    ):
        table.add_column(
            heading,
            justify="right"
            if heading in {"read", "loaded", "quarantined", "merged", "skipped", "s"}
            else "left",
        )
    for r in result.reports:
        fixed = ", ".join(f"{k} {v}" for k, v in r.rows_fixed.items())
        table.add_row(
            r.feed,
            r.file,
            r.encoding or r.file_format,
            f"{r.rows_read:,}",
            f"{r.rows_loaded:,}",
            f"{r.rows_quarantined:,}",
            f"{r.rows_merged:,}",
            f"{r.rows_skipped:,}",
            fixed,
            f"{r.seconds:.2f}",
        )
    console.print(table, width=max(console.width, 160))
    for r in result.reports:
        if r.top_reasons:
            reasons = "; ".join(f"{rule} ×{n}" for rule, n in r.top_reasons)
            console.print(f"  quarantine {r.feed}: {reasons}")
        for warning in r.warnings:
            console.print(f"  [yellow]warning[/] {r.feed}: {warning}", highlight=False)
    console.print(
        f"{result.households:,} households, {result.people:,} people; "
        f"content checksum {result.content_checksum}; {result.seconds:.1f} s"
    )


@etl_app.command("run")
def run(
    directory: Path = typer.Argument(..., help="Folder with the month's department files."),
    month: str = typer.Option(..., help="The month the files describe, YYYY-MM."),
    force: bool = typer.Option(False, help="Reload even if these files are already published."),
    then_derive: bool = typer.Option(
        True, "--derive/--no-derive", help="Derive the month's analytics after loading."
    ),
) -> str:
    """Validate, pseudonymise, geocode and load one month; publish it atomically.

    Returns the run's status (``published`` when the month was loaded and published).
    """
    from etl.pseudonymise import Pseudonymiser, load_key  # noqa: PLC0415
    from etl.publish import FACT_COLUMNS  # noqa: PLC0415
    from etl.run import run_month  # noqa: PLC0415

    if not _policy_codes:
        raise RuntimeError("etl run needs the policy catalog's codes: see set_policy_codes")
    settings = get_settings()
    pseudonymiser = Pseudonymiser(load_key(settings.etl))
    steps = len(FEEDS) + len(FACT_COLUMNS) + 2
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"ETL {month}", total=steps)

        def advance(stage: str, detail: str) -> None:
            progress.update(task, advance=1, description=f"{stage}: {detail}")

        with db.ready_connection(geography=True) as conn:
            result = run_month(
                conn,
                directory,
                month,
                pseudonymiser,
                policy_codes=_policy_codes[0](),
                force=force,
                progress=advance,
            )
    print_report(result)
    if then_derive and result.status == "published" and _after_publish:
        _after_publish[0](month)
    return result.status
