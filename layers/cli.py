"""`onemap export` (a catalog layer or a village's offline map, as a user sees it) and `plates`."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from core import db
from core.settings import get_settings
from core.terminal import cli_console
from core.users import get_user

#: A console that keeps its width in pipes and CI logs (rich shrinks columns otherwise).
console = cli_console()


def export(
    layer: str = typer.Argument(..., help="A catalog layer (e.g. households), or village-map."),
    *,
    user: str = typer.Option(..., "--user", help="Export as this account (its role and scope)."),
    out: Path = typer.Option(..., "--out", help="The file to write."),
    area: str | None = typer.Option(None, help="Admin code of the area (default: the user's)."),
    month: str | None = typer.Option(None, help="YYYY-MM (default: latest published)."),
    fmt: str = typer.Option("gpkg", "--format", help="gpkg|geojson|shp|csv|xlsx|cog"),
    village: str | None = typer.Option(None, help="village-map: the village's 12-digit code."),
) -> None:
    """Write a layer for GIS or Excel; de-identified for roles without portrait rights; audited.

    All household data is synthetic, and every file says so.
    """
    from layers.catalog import get_layer  # noqa: PLC0415 — geopandas is slow to import
    from layers.export import expected_rows, export_layer  # noqa: PLC0415
    from layers.layerdata import LayerRequest, parse_month  # noqa: PLC0415

    with db.connection() as owner:
        account = get_user(owner, user)
    if layer == "village-map":
        _village_map(account, village or area or account.jurisdiction, out)
        return
    spec = get_layer(layer)
    with db.scoped(account.scope) as conn:
        request = LayerRequest(
            spec, area or account.jurisdiction, parse_month(month, conn), account
        )
        total = expected_rows(conn, request)
        with Progress(
            TextColumn(f"{layer}.{fmt}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=not sys.stdout.isatty(),
        ) as bar:
            task = bar.add_task("rows", total=total)
            result = export_layer(
                conn, request, fmt, out, progress=lambda n: bar.advance(task, n), route="cli-export"
            )
    privacy = "de-identified" if result.deidentified else "identified (audited)"
    console.print(
        f"wrote {result.path} — {result.rows:,} rows, {result.bytes / 1e6:.1f} MB in "
        f"{result.seconds:.1f} s, {privacy}; synthetic data"
    )


def _village_map(account: object, village: str, out: Path) -> None:
    from core.access import User  # noqa: PLC0415
    from layers.village_map import write_village_map  # noqa: PLC0415

    assert isinstance(account, User)
    with db.scoped(account.scope) as conn:
        result = write_village_map(conn, account, village, out, route="cli-export")
    console.print(
        f"wrote {out} — offline map of {result.village_name} ({result.households} households,"
        f" {result.bytes / 1e6:.1f} MB); personal data export, audited; synthetic data"
    )


def refresh_points(month: str) -> None:
    """Recompute the month's de-identified household points (tiles, OGC) after a derive."""
    from layers.displaced import refresh  # noqa: PLC0415

    with db.connection() as conn:
        count = refresh(conn, month)
    console.print(f"de-identified points of {month}: {count:,} households")


def plates(
    village: str = typer.Option(..., help="The village's 12-digit code."),
    out: Path = typer.Option(Path("plates.html"), help="The sheet of plates (HTML, A4)."),
    slips: Path | None = typer.Option(
        None, help="Also issue new one-time codes and write their slips here (HTML)."
    ),
) -> None:
    """Write a print-ready sheet of door plates (and, asked, one-time code slips).

    Each plate: QR code, village, plate number, the paired official's name and work phone.
    No personal data is printed on a plate.
    """
    from layers.door import issue_codes, plates_for_village, plates_html, slips_html  # noqa: PLC0415

    with db.connection() as conn:
        sheet = plates_for_village(conn, village, get_settings().map.public_url)
        if not sheet:
            console.print(f"no households in village {village}")
            raise typer.Exit(1)
        out.write_text(plates_html(sheet, f"{sheet[0].village} {village}"), encoding="utf-8")
        console.print(f"{len(sheet):,} plates written to {out}")
        if slips is not None:
            codes = issue_codes(conn, village)
            slips.write_text(slips_html(codes, f"{sheet[0].village} {village}"), encoding="utf-8")
            console.print(f"{len(codes):,} one-time code slips written to {slips}")
