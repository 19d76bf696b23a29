"""`onemap derive` (benefit lists, warnings, supervision, rollups) and `onemap pairing …`."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import cast, get_args

import typer
from rich.table import Table

from core import db
from core.settings import get_settings
from core.terminal import cli_console
from core.users import get_user

console = cli_console()


def policy_codes() -> frozenset[str]:
    """The codes of the policy catalog (`onemap etl run` quarantines subsidies paying others)."""
    from analytics.catalog import load_catalog  # noqa: PLC0415

    return frozenset(policy.code for policy in load_catalog().policies)


def derive(
    month: str = typer.Option(..., help="The month to derive, YYYY-MM (must be published)."),
    checksum: bool = typer.Option(False, help="Also checksum every derived row (slower)."),
    effects: str = typer.Option(
        "stale",
        help="Effectiveness estimates computed ahead: every window whose months changed "
        "(stale), only the one ending this month (month), or none (estimated when asked).",
    ),
) -> None:
    """Compute benefit lists, warnings, supervision and rollups for a month."""
    from analytics.run import Effects, derive_month  # noqa: PLC0415
    from core.month import Month  # noqa: PLC0415

    Month.parse(month)
    if effects not in get_args(Effects):
        raise typer.BadParameter(f"--effects must be one of {', '.join(get_args(Effects))}")
    with db.ready_connection(geography=True) as conn, console.status(f"deriving {month}…"):
        result = derive_month(
            conn, month, get_settings().warn, checksum=checksum, effects=cast(Effects, effects)
        )
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in result.stage_seconds.items())
    counts = ", ".join(f"{k} {v:,}" for k, v in result.counts.items())
    console.print(f"derived {month} ({result.data_version}) in {result.seconds:.1f} s: {stages}")
    console.print(
        f"rows: {counts}" + (f"; checksum {result.checksum[:16]}" if result.checksum else "")
    )


# --- 一户一干部 ----------------------------------------------------------------------------

pairing_app = typer.Typer(help="一户一干部: officials' roster, pairing, reassignment.")


@pairing_app.command("roster")
def roster(
    path: Path = typer.Argument(..., help="The roster CSV (officials_roster_*.csv)."),
) -> None:
    """Load the officials' roster (checked first: a bad row loads nothing and is named)."""
    from analytics.pairing import load_roster, read_roster  # noqa: PLC0415

    rows = read_roster(path)
    with db.connection() as conn:
        console.print(f"roster: {load_roster(conn, rows):,} officials loaded from {path}")


@pairing_app.command("init")
def init() -> None:
    """Pair every unpaired household by the documented rule (docs/assistance.md)."""
    from analytics.pairing import initial_pairing  # noqa: PLC0415

    with db.connection() as conn:
        result = initial_pairing(conn)
    console.print(f"paired {result.paired:,} households; {len(result.unpaired):,} have no official")


@pairing_app.command("link")
def link(username: str, official_id: str) -> None:
    """Let a login act as a roster official (their inbox, their households)."""
    from analytics.pairing import link_login  # noqa: PLC0415

    with db.connection() as conn:
        get_user(conn, username)
        link_login(conn, username, official_id)
    console.print(f"{username} acts as {official_id}")


@pairing_app.command("route")
def route_month() -> None:
    """Route the latest derived month's warnings and gaps to the paired officials again."""
    from analytics.assist_settings import get_assist_settings  # noqa: PLC0415
    from analytics.routing import latest_month, route  # noqa: PLC0415

    with db.connection() as conn:
        month = latest_month(conn)
        if month is None:
            console.print("nothing derived yet")
            raise typer.Exit(1)
        result = route(conn, month, get_assist_settings())
    console.print(f"routed {month:%Y-%m}: {result}")


@pairing_app.command("reassign")
def reassign_cmd(  # noqa: PLR0917 — typer options
    households: list[str] = typer.Argument(None, help="Household ids to move."),
    to: str = typer.Option(..., "--to", help="The official who takes them."),
    reason: str = typer.Option(..., help="Why (kept in the history)."),
    as_user: str = typer.Option(..., "--as", help="The town official or county leader acting."),
    from_official: str | None = typer.Option(
        None, "--from", help="Move every household of this official (e.g. who left)."
    ),
    allow_over: bool = typer.Option(False, help="Allow going over the per-official cap."),
) -> None:
    """Pair households with another official, as a town official or county leader (audited)."""
    from analytics.actions import reassign  # noqa: PLC0415

    with db.connection() as conn:
        user = get_user(conn, as_user)
        wanted = list(households or [])
        if from_official:
            wanted += [
                r[0]
                for r in conn.execute(
                    "SELECT household_id FROM pairing WHERE official_id = %s AND valid_to IS NULL",
                    (from_official,),
                ).fetchall()
            ]
    if not wanted:
        console.print("no households given")
        raise typer.Exit(1)
    moved = reassign(
        user,
        wanted,
        to,
        reason=reason,
        request_id=f"cli-{uuid.uuid4().hex[:12]}",
        allow_over=allow_over,
    )
    console.print(f"moved {moved:,} households to {to}")


@pairing_app.command("loads")
def loads(
    area: str = typer.Option("33", help="Admin-code prefix."),
    over: bool = typer.Option(False, help="Only officials over the cap."),
) -> None:
    """Households per official; those over the cap are marked."""
    from analytics.assist_settings import get_assist_settings  # noqa: PLC0415
    from analytics.pairing import official_loads  # noqa: PLC0415

    cap = get_assist_settings().max_households_per_official
    with db.connection() as conn:
        rows = official_loads(conn, cap, area=area, only_over=over)
    table = Table("official", "name", "county", "households", f"over {cap}")
    for r in rows:
        table.add_row(
            r.official_id, r.name, r.county_code, str(r.households), "!" if r.over else ""
        )
    console.print(table)
