"""`onemap wall issue|list|revoke`: kiosk tokens of the wall screen."""

from __future__ import annotations

import getpass

import typer
from rich.table import Table

from core import db
from core.settings import get_settings
from core.terminal import cli_console
from core.wall_tokens import issue, list_tokens, revoke

console = cli_console()
wall_app = typer.Typer(help="Wall-screen (大屏) kiosk tokens.", no_args_is_help=True)


@wall_app.command("issue")
def issue_token(
    area: str = typer.Option(..., help="The area the wall shows (admin code)."),
    label: str = typer.Option(..., help="Where the screen hangs (shown in `wall list`)."),
) -> None:
    """Issue a token bound to one area; it is printed once and stored only hashed."""
    with db.connection() as conn:
        token_id, token = issue(conn, area, label, getpass.getuser())
    settings = get_settings().map
    console.print(f"wall token {token_id} for area {area} ({label}); shown once, keep it safe:")
    console.print(token, highlight=False)
    console.print(
        f"open on the screen: {settings.public_url}/wall/login?token={token}",
        highlight=False,
    )


@wall_app.command("list")
def list_command() -> None:
    """List issued tokens (never the tokens themselves)."""
    with db.connection() as conn:
        tokens = list_tokens(conn)
    table = Table(title="wall tokens")
    for heading in ("id", "area", "label", "issued by", "issued at", "revoked at"):
        table.add_column(heading)
    for t in tokens:
        revoked = f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else ""
        table.add_row(
            str(t.token_id),
            t.area_code,
            t.label,
            t.issued_by,
            f"{t.issued_at:%Y-%m-%d %H:%M}",
            revoked,
        )
    console.print(table, width=max(console.width, 120))


@wall_app.command("revoke")
def revoke_command(
    token_id: int = typer.Argument(..., help="The token's id (`wall list`)."),
) -> None:
    """Revoke a token: every screen using it gets 401 on its next request."""
    with db.connection() as conn:
        if not revoke(conn, token_id):
            console.print(f"no live wall token {token_id}")
            raise typer.Exit(1)
    console.print(f"wall token {token_id} revoked")
