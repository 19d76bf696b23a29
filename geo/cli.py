"""`onemap init`: migrate the schema and load the geography."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from core import db, migrate
from core.settings import get_settings
from core.terminal import cli_console

if TYPE_CHECKING:  # geopandas is slow to import; only init needs it
    from geo.admin_load import Subdivide

console = cli_console()


def init(subdivide: Subdivide) -> None:
    """Migrate the schema and load the geography (idempotent: a second run changes nothing)."""
    from geo import admin_load  # noqa: PLC0415 — geopandas is slow to import; only init needs it

    started = time.perf_counter()
    with db.connection() as conn:
        applied = migrate.migrate(conn)
        db.ensure_app_login(conn)
        console.print(f"migrations: {len(applied)} applied")
        with console.status("building geography (real counties, synthetic towns and villages)…"):
            result = admin_load.load_geography(conn, get_settings().geo, subdivide)
    counts = ", ".join(f"{level} {n}" for level, n in sorted(result.counts.items()))
    verb = "loaded" if result.changed else "up to date, unchanged"
    console.print(f"geography {verb} ({counts}) in {time.perf_counter() - started:.1f} s")
