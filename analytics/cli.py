"""`onemap derive`: benefit lists, warnings, supervision and rollups of a published month."""

from __future__ import annotations

import typer
from rich.console import Console

from core import db
from core.settings import get_settings

console = Console(soft_wrap=True)


def policy_codes() -> frozenset[str]:
    """The codes of the policy catalog (`onemap etl run` quarantines subsidies paying others)."""
    from analytics.catalog import load_catalog  # noqa: PLC0415

    return frozenset(policy.code for policy in load_catalog().policies)


def derive(
    month: str = typer.Option(..., help="The month to derive, YYYY-MM (must be published)."),
    checksum: bool = typer.Option(False, help="Also checksum every derived row (slower)."),
) -> None:
    """Compute benefit lists, warnings, supervision and rollups for a month."""
    from analytics.run import derive_month  # noqa: PLC0415
    from core.month import Month  # noqa: PLC0415

    Month.parse(month)
    with db.ready_connection(geography=True) as conn, console.status(f"deriving {month}…"):
        result = derive_month(conn, month, get_settings().warn, checksum=checksum)
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in result.stage_seconds.items())
    counts = ", ".join(f"{k} {v:,}" for k, v in result.counts.items())
    console.print(f"derived {month} ({result.data_version}) in {result.seconds:.1f} s: {stages}")
    console.print(
        f"rows: {counts}" + (f"; checksum {result.checksum[:16]}" if result.checksum else "")
    )
