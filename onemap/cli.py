"""The `onemap` command: composes the verbs each package owns (its `cli.py`)."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import typer

from analytics import cli as analytics_cli
from core import cli as core_cli
from core import wall_cli
from core.errors import OneMapError
from core.month import Month
from core.settings import get_settings
from core.terminal import cli_console
from etl import cli as etl_cli
from geo import cli as geo_cli
from layers import cli as layers_cli
from synth import cli as synth_cli

app = typer.Typer(
    help="onemap (一张图): low-income household assistance on one map. "
    "All household data is synthetic.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(core_cli.db_app, name="db")
app.add_typer(core_cli.users_app, name="users")
app.add_typer(core_cli.audit_app, name="audit")
app.add_typer(wall_cli.wall_app, name="wall")
app.add_typer(core_cli.tokens_app, name="tokens")
app.command("synth")(synth_cli.synth)
app.add_typer(etl_cli.etl_app, name="etl")
app.add_typer(analytics_cli.pairing_app, name="pairing")
app.command("plates")(layers_cli.plates)
app.command("export")(layers_cli.export)


@app.command("derive")
def derive(
    month: str = typer.Option(..., help="The month to derive, YYYY-MM (must be published)."),
    checksum: bool = typer.Option(False, help="Also checksum every derived row (slower)."),
    effects: str = typer.Option(
        "stale", help="Effectiveness estimates computed ahead: stale (default), month or none."
    ),
) -> None:
    """Benefit lists, warnings, supervision and rollups; then the month's de-identified points."""
    analytics_cli.derive(month=month, checksum=checksum, effects=effects)
    layers_cli.refresh_points(month)


etl_cli.set_after_publish(lambda month: derive(month=month, checksum=False, effects="stale"))
etl_cli.set_policy_codes(analytics_cli.policy_codes)


@app.command("init")
def init() -> None:
    """Migrate the schema and load the geography (idempotent: a second run changes nothing).

    County and higher boundaries are real; towns and villages are synthesised inside them.
    """
    from synth.geography import synthesise_towns_villages  # noqa: PLC0415 — geopandas is slow

    geo_cli.init(synthesise_towns_villages)


@app.command("serve")
def serve(
    host: str | None = typer.Option(None, help="Listen address (default from settings)."),
    port: int | None = typer.Option(None, help="Port (default 8050)."),
    workers: int | None = typer.Option(
        None, min=1, max=32, help="App processes (default ONEMAP_MAP_WORKERS or 1; one per core)."
    ),
) -> None:
    """Serve the map at http://127.0.0.1:8050."""
    from core import db  # noqa: PLC0415
    from dashboards.server import run  # noqa: PLC0415 — dash is only imported to serve

    with db.ready_connection(geography=True):
        pass  # an uninitialised database is refused here, with what to run

    run(host=host, port=port, workers=workers)


def demo_months(last: str, count: int) -> list[str]:
    """The ``count`` consecutive months ending with ``last`` (``YYYY-MM``), oldest first."""
    end = Month.parse(last)
    return [str(m) for m in Month.range(end.shift(1 - count), end)]


def _synth_in_background(folder: Path, month: str) -> None:
    """Write a month's synthetic feeds in a child process (it overlaps the previous load)."""
    if (folder / "manifest.json").is_file():
        return
    command = [sys.executable, "-m", "onemap", "synth", "--out", str(folder), "--month", month]
    command += ["--scale", "demo", "--seed", "7", "--defect-rate", "0.01"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def answer_demo_month(conn: Any, month: str) -> int:
    """Let synthetic officials answer a demo month's new warnings; return how many they answered.

    They answer through the assistance write path; the month's response figures (median
    response, trends, 3-hour attainment and plan coverage in the rollups) are refreshed, so the
    month needs no second derive.
    """
    from analytics.assist_settings import AssistanceSettings  # noqa: PLC0415
    from analytics.lifecycle import simulate_responses  # noqa: PLC0415
    from analytics.routing import refresh_rollups  # noqa: PLC0415
    from analytics.trends import refresh_responses  # noqa: PLC0415

    answered = simulate_responses(conn, month, seed=7)
    if answered:
        first = Month.parse(month).first_day
        refresh_responses(conn, first)
        refresh_rollups(conn, first, AssistanceSettings())
    return answered


@app.command("demo")
def demo(serve_app: bool = typer.Option(True, "--serve/--no-serve")) -> None:
    """Start the embedded PostGIS, migrate, load geography and six synthetic months, serve.

    Consecutive months of one seed describe the same households drifting (entries, exits,
    incomes), so trends and growth are real; the next month is synthesised while one loads.
    The first month also makes the demo logins and pairs households with officials.
    """
    from core import db, users  # noqa: PLC0415

    settings = get_settings().etl
    core_cli.start()
    init()
    months = demo_months(settings.demo_month, settings.demo_months)
    created: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=1) as pool:
        written = {m: pool.submit(_synth_in_background, settings.demo_dir / m, m) for m in months}
        for month in months:
            written[month].result()
            folder = settings.demo_dir / month
            status = etl_cli.run(directory=folder, month=month, force=False, then_derive=False)
            if status == "published":
                # Only the window ending at the latest month is estimated ahead; the statistics
                # page estimates an earlier one when somebody asks for it.
                effects = "month" if month == months[-1] else "none"
                derive(month=month, checksum=False, effects=effects)
            with db.connection() as conn:
                if month == months[0]:
                    created = users.ensure_demo_users(conn)
                    _demo_pairing(conn, folder, month)
                answer_demo_month(conn, month)
    core_cli.print_demo_users(created)
    if serve_app:
        serve(None, None, None)


def _demo_pairing(conn: Any, folder: Path, month: str) -> None:
    """Roster, initial pairing, and the demo official's village households (first run only)."""
    from analytics import pairing  # noqa: PLC0415

    if conn.execute("SELECT EXISTS (SELECT 1 FROM pairing)").fetchone()[0]:
        return
    roster = folder / f"officials_roster_{month}.csv"
    if not roster.is_file():
        synth_cli.synth(out=folder, month=month, scale="demo", seed=7, defect_rate=0.01)
    pairing.load_roster(conn, pairing.read_roster(roster))
    pairing.initial_pairing(conn)
    pairing.pair_demo_official(conn, "demo-official")


def main() -> None:
    """Run the CLI; onemap errors become one clear line and exit code 1."""
    try:
        app()  # click handles usage errors and exit codes; our own errors come through here
    except OneMapError as error:
        cli_console(stderr=True).print(f"[bold red]error:[/] {error.user_msg}", highlight=False)
        sys.exit(1)
