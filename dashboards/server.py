"""Run the app: open the database pool, build the Dash app and serve it."""

from __future__ import annotations

from rich.console import Console

from dashboards.app import create_app
from geo import db
from geo.settings import get_settings


def run(host: str | None = None, port: int | None = None) -> None:
    """Serve the map until interrupted."""
    settings = get_settings().map
    db.open_pool()
    app = create_app()
    host = host or settings.host
    port = port or settings.port
    Console().print(f"onemap serving at [bold]http://{host}:{port}[/] (Ctrl+C to stop)")
    app.run(host=host, port=port, debug=settings.debug, threaded=True)
