"""`onemap synth`: write a month of synthetic department feeds (all household data is synthetic)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import typer

from core import db
from core.scope import PROVINCE_SCOPE
from core.terminal import cli_console

console = cli_console()


def synth(
    out: Path = typer.Option(..., "--out", help="Folder to write the month's feed files into."),
    month: str = typer.Option(..., help="Month to generate, YYYY-MM."),
    scale: str = typer.Option("demo", help="demo (49,600 households) or full (496,000)."),
    seed: int = typer.Option(7, help="Seed: the same seed gives the same households."),
    defect_rate: float = typer.Option(0.01, help="Share of rows given a real-world defect."),
) -> None:
    """Generate one month of synthetic department feeds (all data is synthetic)."""
    from core.month import Month  # noqa: PLC0415
    from geo.admin import villages_frame  # noqa: PLC0415
    from synth import generate  # noqa: PLC0415

    Month.parse(month)
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
