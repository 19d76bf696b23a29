"""`onemap plates`: printable door plates (小康码) and one-time code slips for a village."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from core import db
from core.settings import get_settings

console = Console(soft_wrap=True)


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
