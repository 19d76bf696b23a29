"""`onemap synth` and `onemap etl run`: make a month of department feeds, and load one."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from etl.feedspec import FEEDS
from geo import db
from geo.scope import PROVINCE_SCOPE
from geo.settings import get_settings

if TYPE_CHECKING:
    from etl.run import RunResult

# The heavy modules (pandas, Arrow, shapely, rasterio) are imported by the verbs that use
# them, so `onemap db status` stays instant.

console = Console(soft_wrap=True)
etl_app = typer.Typer(
    help="Department feeds → validated, pseudonymised, geocoded, loaded.", no_args_is_help=True
)


def synth(
    out: Path = typer.Option(..., "--out", help="Folder to write the month's feed files into."),
    month: str = typer.Option(..., help="Month to generate, YYYY-MM."),
    scale: str = typer.Option("demo", help="demo (49,600 households) or full (496,000)."),
    seed: int = typer.Option(7, help="Seed: the same seed gives the same households."),
    defect_rate: float = typer.Option(0.01, help="Share of rows given a real-world defect."),
) -> None:
    """Generate one month of synthetic department feeds (all data is synthetic)."""
    from etl.run import check_month  # noqa: PLC0415
    from etl.synth import generate  # noqa: PLC0415
    from geo.admin import villages_frame  # noqa: PLC0415

    check_month(month)
    if scale not in ("demo", "full"):
        raise typer.BadParameter("scale must be demo or full", param_hint="--scale")
    started = time.perf_counter()
    with db.connection() as conn:
        villages = villages_frame(conn, PROVINCE_SCOPE)
    size: Literal["demo", "full"] = "full" if scale == "full" else "demo"
    with console.status(f"generating {scale} feeds for {month}…"):
        manifest = generate(
            villages, scale=size, month=month, seed=seed, out_dir=out, defect_rate=defect_rate
        )
    rows = sum(f.rows for f in manifest.files)
    console.print(
        f"wrote {len(manifest.files)} feeds, {rows:,} rows "
        f"({manifest.households:,} households, {manifest.people:,} people) to {out} "
        f"in {time.perf_counter() - started:.1f} s"
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
        "fixed",
        "s",
    ):
        table.add_column(
            heading,
            justify="right"
            if heading in {"read", "loaded", "quarantined", "merged", "s"}
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
            fixed,
            f"{r.seconds:.2f}",
        )
    console.print(table, width=max(console.width, 160))
    for r in result.reports:
        if r.top_reasons:
            reasons = "; ".join(f"{rule} ×{n}" for rule, n in r.top_reasons)
            console.print(f"  quarantine {r.feed}: {reasons}")
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
) -> None:
    """Validate, pseudonymise, geocode and load one month; publish it atomically."""
    from etl.pseudonymise import Pseudonymiser, load_key  # noqa: PLC0415
    from etl.publish import FACT_COLUMNS  # noqa: PLC0415
    from etl.run import run_month  # noqa: PLC0415

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

        with db.connection() as conn:
            result = run_month(conn, directory, month, pseudonymiser, force=force, progress=advance)
    print_report(result)
    if then_derive and result.status == "published":
        derive(month=month, checksum=False)


def derive(
    month: str = typer.Option(..., help="The month to derive, YYYY-MM (must be published)."),
    checksum: bool = typer.Option(False, help="Also checksum every derived row (slower)."),
) -> None:
    """Compute benefit lists, warnings, supervision and rollups for a month."""
    from etl.derive.run import derive_month  # noqa: PLC0415
    from etl.run import check_month  # noqa: PLC0415

    check_month(month)
    with db.connection() as conn, console.status(f"deriving {month}…"):
        result = derive_month(conn, month, get_settings().warn, checksum=checksum)
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in result.stage_seconds.items())
    counts = ", ".join(f"{k} {v:,}" for k, v in result.counts.items())
    console.print(f"derived {month} ({result.data_version}) in {result.seconds:.1f} s: {stages}")
    console.print(
        f"rows: {counts}" + (f"; checksum {result.checksum[:16]}" if result.checksum else "")
    )
