"""The Dash app: create it, attach security, logins, routes, layout and callbacks.

``create_app().server`` is the Flask app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dash
from dash import html

from analytics.assist_settings import get_photo_settings
from core.settings import get_settings
from dashboards import auth, callbacks, guard, headers
from dashboards.audit_page import audit_pages
from dashboards.compression import enable_compression
from dashboards.door_public import door_pages
from dashboards.downloads import downloads_api
from dashboards.field import field_pages
from dashboards.inbox import inbox_pages
from dashboards.layout import page
from dashboards.messages import t
from dashboards.ogc import ogc_api
from dashboards.routes import api
from dashboards.subpages import mount_pages
from dashboards.team import team_pages
from dashboards.tiles import tiles_api
from dashboards.viewer import optional_user

ASSETS = Path(__file__).parent / "assets"
#: Dash's page, with the language set (Chinese until the view says otherwise: CJK fonts pick it).
INDEX = """<!DOCTYPE html>
<html lang="zh-CN">
<head>{%metas%}<title>{%title%}</title>{%favicon%}{%css%}</head>
<body>{%app_entry%}<footer>{%config%}{%scripts%}{%renderer%}</footer></body>
</html>"""
#: The renderer's start, served as a file (not auto-included with the other assets).
RENDERER_FILE = "renderer-start.js"
RENDERER = f'<script id="_dash-renderer" src="/assets/{RENDERER_FILE}"></script>'


class OneMapDash(dash.Dash):
    """Dash without its inline script: the renderer starts from a file.

    So the CSP needs neither ``'unsafe-inline'`` nor a hash for scripts (``interpolate_index``
    is Dash's documented hook for a custom index).
    """

    def interpolate_index(self, **kwargs: Any) -> str:  # type: ignore[override]
        """Dash's index with the renderer loaded from ``/assets/renderer-start.js``."""
        kwargs["renderer"] = RENDERER
        return str(super().interpolate_index(**kwargs))


def create_app() -> dash.Dash:
    """Create the app; the layout is built per page load for the logged-in user."""
    settings = get_settings().map
    options: dict[str, Any] = {
        "title": t("app.title"),
        "assets_folder": str(ASSETS),
        "assets_ignore": RENDERER_FILE.replace(".", r"\."),
        "serve_locally": True,  # county intranets have no internet: never a CDN
        "update_title": "",  # no "Updating…" flicker in the tab title
        "index_string": INDEX,
    }
    app = OneMapDash(__name__, **options)
    server = app.server
    headers.install(server, settings.tile_url)
    auth.install(server)
    guard.install(server, lambda: app.callback_map)
    enable_compression(server)
    server.register_blueprint(api)
    server.register_blueprint(audit_pages)
    server.register_blueprint(inbox_pages)
    # The largest body read: a visit form with every photo at its cap (else 413, not a 500).
    server.config["MAX_CONTENT_LENGTH"] = get_photo_settings().max_request_bytes
    server.register_blueprint(door_pages)
    server.register_blueprint(team_pages)
    mount_pages(server, OneMapDash, **options)
    server.register_blueprint(tiles_api)
    server.register_blueprint(ogc_api)
    server.register_blueprint(downloads_api)
    server.register_blueprint(field_pages)

    def layout() -> Any:
        user = optional_user()
        # Dash validates the layout on its first request, whoever sends it; visitors without
        # a login never get this far (the gate sends them to /login).
        return page(user, settings) if user is not None else html.Div(id="login-required")

    app.layout = layout
    callbacks.register(app)
    return app
