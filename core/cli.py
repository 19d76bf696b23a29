"""`onemap db`, `users` and `audit`: the database, the accounts and the audit trail."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from core import audit, backup, cluster, db, migrate, sessions, users
from core.access import Role
from core.settings import get_settings
from core.terminal import cli_console

console = cli_console()
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


users_app = typer.Typer(help="User accounts: add, list, disable.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
_Prompt = Annotated[
    bool,
    typer.Option("--prompt-password", help="Type the password instead of generating one."),
]


def _print_password(username: str, password: str) -> None:
    console.print(
        f"password for [bold]{username}[/]: [bold]{password}[/]  "
        "(shown once: it is stored only as an argon2id hash)",
        highlight=False,
    )


@users_app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="Login: lower-case letters, digits, _ . -")],
    role: Annotated[Role, typer.Option("--role", help="What the user does.")],
    jurisdiction: Annotated[
        str,
        typer.Option("--jurisdiction", help="Admin code of the user's area: 2/4/6/9/12 digits."),
    ],
    name: Annotated[
        str | None, typer.Option("--name", help="Display name (default: the username).")
    ] = None,
    prompt: _Prompt = False,
) -> None:
    """Add a user; a generated password is printed once."""
    password = (
        typer.prompt("password", hide_input=True, confirmation_prompt=True) if prompt else None
    )
    with db.ready_connection() as conn:
        user, password = users.add_user(
            conn,
            username,
            role=role,
            jurisdiction=jurisdiction,
            display_name=name,
            password=password,
        )
    console.print(f"added {user.username} ({user.role.value}, jurisdiction {user.jurisdiction})")
    if not prompt:
        _print_password(user.username, password)


@users_app.command("list")
def list_command() -> None:
    """List the users (never their password hashes)."""
    with db.ready_connection() as conn:
        records = users.list_users(conn)
    table = Table()
    table.add_column("username", no_wrap=True)
    table.add_column("name")
    table.add_column("role", no_wrap=True)
    table.add_column("jurisdiction", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("created")
    for record in records:
        user = record.user
        table.add_row(
            user.username,
            user.display_name,
            user.role.value,
            user.jurisdiction,
            "[red]disabled[/]" if record.disabled else "active",
            f"{record.created_at:%Y-%m-%d}",
        )
    console.print(table)
    console.print(f"{len(records)} users")


@users_app.command("disable")
def disable(username: Annotated[str, typer.Argument(help="The user to disable.")]) -> None:
    """Disable a user: logins fail from now on; the account and its audit rows stay."""
    with db.ready_connection() as conn:
        users.disable_user(conn, username)
    console.print(f"disabled {username}")


@users_app.command("enable")
def enable(username: Annotated[str, typer.Argument(help="The user to enable again.")]) -> None:
    """Enable a disabled user."""
    with db.ready_connection() as conn:
        users.enable_user(conn, username)
    console.print(f"enabled {username}")


@users_app.command("password")
def password_command(
    username: Annotated[str, typer.Argument(help="Whose password to reset.")],
    prompt: _Prompt = False,
) -> None:
    """Reset a user's password; a generated one is printed once."""
    given = typer.prompt("password", hide_input=True, confirmation_prompt=True) if prompt else None
    with db.ready_connection() as conn:
        password = users.set_password(conn, username, given)
    console.print(f"password of {username} reset")
    if not prompt:
        _print_password(username, password)


@users_app.command("logout")
def logout_command(
    username: Annotated[str, typer.Argument(help="Whose sessions to end.")],
) -> None:
    """End every web session of a user at once (copied cookies included)."""
    with db.ready_connection() as conn:
        users.get_user(conn, username)  # an unknown name is an error, not "0 sessions"
        ended = sessions.end_all(conn, username)
    console.print(f"ended {ended} sessions of {username}")


@audit_app.command("verify")
def verify(
    anchor_file: Annotated[
        Path | None,
        typer.Option("--anchor", help="An anchor file from `onemap audit anchor` to check too."),
    ] = None,
) -> None:
    """Check the whole hash chain (and an anchor kept earlier); exit 1 naming what is broken."""
    kept = None
    if anchor_file is not None:
        try:
            kept = audit.Anchor.from_json(anchor_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            console.print(f"[bold red]cannot read anchor[/] {anchor_file}: {error}")
            raise typer.Exit(2) from error
    with db.ready_connection() as conn:
        result = audit.verify(conn)
        problem = audit.check_anchor(conn, kept) if kept is not None and result.ok else None
    if result.ok and problem is None:
        console.print(f"[green]ok[/] {result.summary()}", highlight=False)
        if kept is not None:
            console.print(f"[green]ok[/] anchored row {kept.id} present, hash matches")
        return
    console.print(f"[bold red]BROKEN[/] {problem or result.summary()}", highlight=False)
    raise typer.Exit(1)


@audit_app.command("anchor")
def anchor_command(
    out: Annotated[Path, typer.Option("--out", help="Where to write the anchor (JSON).")] = Path(
        "audit-anchor.json"
    ),
) -> None:
    """Write the chain's head (id and hash) to a file and print it: keep it off the server."""
    with db.ready_connection() as conn:
        head = audit.anchor(conn)
    if head is None:
        console.print("the audit trail is empty: nothing to anchor")
        raise typer.Exit(1)
    out.write_text(head.to_json() + "\n", encoding="utf-8")
    console.print(head.to_json(), highlight=False)


@db_app.command("backup")
def backup_command(
    out: Annotated[Path, typer.Option("--out", help="The backup file (pg_dump custom format).")],
) -> None:
    """Back up the whole database (audit chain included) to one file."""
    written = backup.backup(db.database_url(), out)
    console.print(f"backed up to {written} ({written.stat().st_size:,} bytes)")


@db_app.command("restore")
def restore_command(
    dump: Annotated[Path, typer.Argument(help="A file written by `onemap db backup`.")],
) -> None:
    """Replace the database with a backup, all or nothing (stop the web app first)."""
    backup.restore(db.database_url(), dump)
    console.print(f"restored {dump}; run `onemap audit verify` to check the chain")


def print_demo_users(created: dict[str, str]) -> None:
    """Print the demo users made now, with their passwords (once: they are not kept)."""
    if not created:
        return
    table = Table("demo user", "password", title="demo logins (shown once)")
    for username, password in created.items():
        table.add_row(username, password)
    console.print(table)


tokens_app = typer.Typer(help="API tokens for desktop GIS (OGC API, tiles).", no_args_is_help=True)


@tokens_app.command("issue")
def tokens_issue(
    username: Annotated[str, typer.Argument(help="The user the token acts as.")],
    label: Annotated[str, typer.Option("--label", help="What the token is for.")] = "",
) -> None:
    """Issue a token; it is printed once and stored only as a SHA-256 hash."""
    from core import tokens  # noqa: PLC0415

    with db.ready_connection() as conn:
        issued = tokens.issue(conn, username, label)
    console.print(
        f"token {issued.token_id} for [bold]{issued.username}[/]: [bold]{issued.token}[/]  "
        "(shown once; send it as 'Authorization: Bearer …')",
        highlight=False,
    )


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[int, typer.Argument(help="The token's id.")]) -> None:
    """Revoke a token: it stops working at once."""
    from core import tokens  # noqa: PLC0415

    with db.ready_connection() as conn:
        tokens.revoke(conn, token_id)
    console.print(f"revoked token {token_id}")


@tokens_app.command("list")
def tokens_list() -> None:
    """List tokens (id, user, label, dates; never the tokens)."""
    from core import tokens  # noqa: PLC0415

    with db.ready_connection() as conn:
        for row in tokens.list_tokens(conn):
            console.print("  ".join(str(v) for v in row), highlight=False)
