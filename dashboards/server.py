"""Run the app: open the database pool, build the Dash app and serve it with waitress."""

from __future__ import annotations

import json

from rich.console import Console

from core import db
from core.settings import get_settings
from dashboards.app import create_app


def run(host: str | None = None, port: int | None = None) -> None:
    """Serve the map until interrupted (Dash's debug server when ONEMAP_MAP_DEBUG is set).

    The app connects only as the web app's role (``onemap_app``): it owns no table and every
    query runs under row-level security in the logged-in user's jurisdiction.
    """
    settings = get_settings().map
    db.open_app_pool()
    app = create_app()
    host = host or settings.host
    port = port or settings.port
    Console().print(f"onemap serving at [bold]http://{host}:{port}[/] (Ctrl+C to stop)")
    if settings.debug:
        app.run(host=host, port=port, debug=True)
        return
    import waitress  # noqa: PLC0415

    try:
        waitress.serve(app.server, host=host, port=port, threads=settings.threads, ident="onemap")
    except KeyboardInterrupt:
        pass
    finally:
        if settings.pool_stats:
            stats = json.dumps(db.get_app_pool().get_stats())
            print("pool-stats " + stats, flush=True)  # read by bench/load.py
