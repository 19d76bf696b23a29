"""The `onemap` command: its verbs mirror the packages (db/init → geo, serve → dashboards)."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from etl import cli as etl_cli
from geo import cli as geo_cli
from geo import cli_access
from geo.errors import OneMapError
from geo.settings import get_settings

app = typer.Typer(
    help="onemap (一张图): low-income household assistance on one map. "
    "All household data is synthetic.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(geo_cli.db_app, name="db")
app.command("init")(geo_cli.init)
app.command("synth")(etl_cli.synth)
app.command("derive")(etl_cli.derive)
app.add_typer(etl_cli.etl_app, name="etl")
app.add_typer(cli_access.users_app, name="users")
app.add_typer(cli_access.audit_app, name="audit")


@app.command("serve")
def serve(
    host: str | None = typer.Option(None, help="Listen address (default from settings)."),
    port: int | None = typer.Option(None, help="Port (default 8050)."),
) -> None:
    """Serve the map at http://127.0.0.1:8050."""
    from dashboards.server import run  # noqa: PLC0415 — dash is only imported to serve

    run(host=host, port=port)


@app.command("demo")
def demo(serve_app: bool = typer.Option(True, "--serve/--no-serve")) -> None:
    """Start the embedded PostGIS, migrate, load geography and a synthetic demo month, serve."""
    settings = get_settings().etl
    geo_cli.start()
    geo_cli.init()
    folder = settings.demo_dir / settings.demo_month
    if not (folder / "manifest.json").is_file():
        etl_cli.synth(out=folder, month=settings.demo_month, scale="demo", seed=7, defect_rate=0.01)
    etl_cli.run(directory=folder, month=settings.demo_month, force=False, then_derive=True)
    from etl.derive.lifecycle import simulate_responses  # noqa: PLC0415
    from geo import db, users  # noqa: PLC0415

    with db.connection() as conn:
        answered = simulate_responses(conn, settings.demo_month, seed=7)
        created = users.ensure_demo_users(conn)
    cli_access.print_demo_users(created)
    if answered:  # officials (synthetic) answered new warnings: refresh the statistics
        etl_cli.derive(month=settings.demo_month, checksum=False)
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
