"""The `onemap` command: composes the verbs each package owns (its `cli.py`)."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from analytics import cli as analytics_cli
from core import cli as core_cli
from core.errors import OneMapError
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
app.command("synth")(synth_cli.synth)
app.add_typer(etl_cli.etl_app, name="etl")
app.command("derive")(analytics_cli.derive)
etl_cli.set_after_publish(lambda month: analytics_cli.derive(month=month, checksum=False))
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
) -> None:
    """Serve the map at http://127.0.0.1:8050."""
    from core import db  # noqa: PLC0415
    from dashboards.server import run  # noqa: PLC0415 — dash is only imported to serve

    with db.ready_connection(geography=True):
        pass  # an uninitialised database is refused here, with what to run

    run(host=host, port=port)


@app.command("demo")
def demo(serve_app: bool = typer.Option(True, "--serve/--no-serve")) -> None:
    """Start the embedded PostGIS, migrate, load geography and a synthetic demo month, serve."""
    settings = get_settings().etl
    core_cli.start()
    init()
    folder = settings.demo_dir / settings.demo_month
    if not (folder / "manifest.json").is_file():
        synth_cli.synth(
            out=folder, month=settings.demo_month, scale="demo", seed=7, defect_rate=0.01
        )
    etl_cli.run(directory=folder, month=settings.demo_month, force=False, then_derive=True)
    from analytics.lifecycle import simulate_responses  # noqa: PLC0415
    from core import db, users  # noqa: PLC0415

    with db.connection() as conn:
        answered = simulate_responses(conn, settings.demo_month, seed=7)
        created = users.ensure_demo_users(conn)
    core_cli.print_demo_users(created)
    if answered:  # officials (synthetic) answered new warnings: refresh the statistics
        analytics_cli.derive(month=settings.demo_month, checksum=False)
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
