"""`onemap db …` and `onemap init`: the embedded cluster, migrations and the geography."""

from __future__ import annotations

import time

import typer
from rich.console import Console

from geo import cluster, db, migrate
from geo.settings import get_settings

console = Console(soft_wrap=True)
db_app = typer.Typer(
    help="The PostGIS database: embedded cluster and migrations.", no_args_is_help=True
)


def _uses_external_database() -> bool:
    return get_settings().db.url is not None


@db_app.command("start")
def start() -> None:
    """Initialise (first time) and start the embedded PostGIS cluster; reuse it if running."""
    if _uses_external_database():
        console.print("DATABASE_URL is set: using that database, no embedded cluster to start.")
        return
    settings = get_settings().db
    before = cluster.status(settings)
    state = cluster.start(settings)
    with db.connection() as conn:
        db.ensure_app_login(conn)
    verb = "already running" if before.running else "started"
    console.print(
        f"PostgreSQL {verb} on {settings.host}:{state.port} (pid {state.pid}), "
        f"data in {state.location.data_dir}"
    )
    if state.location.note:
        console.print(f"[yellow]note:[/] {state.location.note}")


@db_app.command("stop")
def stop() -> None:
    """Stop the embedded cluster."""
    stopped = cluster.stop(get_settings().db)
    console.print("stopped" if stopped else "not running")


@db_app.command("status")
def status() -> None:
    """Say where the cluster lives and whether it runs."""
    settings = get_settings().db
    if _uses_external_database():
        console.print("database: external (DATABASE_URL)")
        return
    state = cluster.status(settings)
    install = state.install
    console.print(f"data folder : {state.location.data_dir}")
    if state.location.note:
        console.print(f"note        : {state.location.note}")
    server = f"PostgreSQL {install.version} in {install.bindir}" if install else "not installed"
    console.print(f"server      : {server}")
    console.print(f"postgis     : {'yes' if install and install.has_postgis else 'no'}")
    console.print(f"initialised : {'yes' if state.initialised else 'no'}")
    console.print(
        f"running     : {f'yes (pid {state.pid}, port {state.port})' if state.running else 'no'}"
    )
    console.print(f"runs as     : {cluster.current_os_user()}")
    if not state.running:
        raise typer.Exit(3)


@db_app.command("url")
def url() -> None:
    """Print the connection string (with its password: keep it private)."""
    typer.echo(db.database_url())


@db_app.command("migrate")
def migrate_command() -> None:
    """Apply the schema migrations not yet applied."""
    with db.connection() as conn:
        applied = migrate.migrate(conn)
        db.ensure_app_login(conn)
    if applied:
        for migration in applied:
            console.print(f"applied {migration.version:04d}_{migration.name}")
    else:
        console.print("schema is up to date")


def init() -> None:
    """Migrate the schema and load the geography (idempotent: a second run changes nothing)."""
    from geo import admin_load  # noqa: PLC0415 — geopandas is slow to import; only init needs it

    started = time.perf_counter()
    with db.connection() as conn:
        applied = migrate.migrate(conn)
        db.ensure_app_login(conn)
        console.print(f"migrations: {len(applied)} applied")
        with console.status("building geography (real counties, synthetic towns and villages)…"):
            result = admin_load.load_geography(conn, get_settings().geo)
    counts = ", ".join(f"{level} {n}" for level, n in sorted(result.counts.items()))
    verb = "loaded" if result.changed else "up to date, unchanged"
    console.print(f"geography {verb} ({counts}) in {time.perf_counter() - started:.1f} s")
