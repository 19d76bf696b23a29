"""The `onemap` command: composes the verbs each package owns (its `cli.py`)."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import typer
from rich.console import Console

from analytics import cli as analytics_cli
from core import cli as core_cli
from core import wall_cli
from core.errors import OneMapError
from core.month import Month
from core.settings import get_settings
from etl import cli as etl_cli
from geo import cli as geo_cli
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
app.command("synth")(synth_cli.synth)
app.add_typer(etl_cli.etl_app, name="etl")
app.command("derive")(analytics_cli.derive)
etl_cli.set_after_publish(lambda month: analytics_cli.derive(month=month, checksum=False))


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
) -> None:
    """Serve the map at http://127.0.0.1:8050."""
    from dashboards.server import run  # noqa: PLC0415 — dash is only imported to serve

    run(host=host, port=port)


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


def load_demo_month(month: str, folder: Path) -> None:
    """Load, derive and answer one synthetic demo month (officials answer its new warnings)."""
    from analytics.lifecycle import simulate_responses  # noqa: PLC0415
    from analytics.trends import refresh_responses  # noqa: PLC0415
    from core import db  # noqa: PLC0415

    etl_cli.run(directory=folder, month=month, force=False, then_derive=True)
    with db.connection() as conn:
        if simulate_responses(conn, month, seed=7):
            # Officials (synthetic) answered the new warnings: their response figures change.
            refresh_responses(conn, Month.parse(month).first_day)


@app.command("demo")
def demo(serve_app: bool = typer.Option(True, "--serve/--no-serve")) -> None:
    """Start the embedded PostGIS, migrate, load geography and six synthetic months, serve.

    Consecutive months of one seed describe the same households drifting (entries, exits,
    incomes), so trends and growth are real; the next month is synthesised while one loads.
    """
    settings = get_settings().etl
    core_cli.start()
    init()
    months = demo_months(settings.demo_month, settings.demo_months)
    with ThreadPoolExecutor(max_workers=1) as pool:
        written = {m: pool.submit(_synth_in_background, settings.demo_dir / m, m) for m in months}
        for month in months:
            written[month].result()
            load_demo_month(month, settings.demo_dir / month)
    from core import db, users  # noqa: PLC0415

    with db.connection() as conn:
        created = users.ensure_demo_users(conn)
    core_cli.print_demo_users(created)
    if serve_app:
        serve(None, None)


def main() -> None:
    """Run the CLI; onemap errors become one clear line and exit code 1."""
    try:
        app()  # click handles usage errors and exit codes; our own errors come through here
    except OneMapError as error:
        Console(stderr=True, soft_wrap=True).print(
            f"[bold red]error:[/] {error.user_msg}", highlight=False
        )
        sys.exit(1)
