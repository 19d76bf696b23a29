"""The Dash app: create it, attach routes, layout and callbacks. ``server`` is the Flask app."""

from __future__ import annotations

from pathlib import Path

import dash

from dashboards import callbacks
from dashboards.compression import enable_compression
from dashboards.layout import page
from dashboards.messages import t
from dashboards.routes import api, viewer_scope
from geo.settings import get_settings

ASSETS = Path(__file__).parent / "assets"
#: Dash's page, with the language set (Chinese until the view says otherwise: CJK fonts pick it).
INDEX = """<!DOCTYPE html>
<html lang="zh-CN">
<head>{%metas%}<title>{%title%}</title>{%favicon%}{%css%}</head>
<body>{%app_entry%}<footer>{%config%}{%scripts%}{%renderer%}</footer></body>
</html>"""


def create_app() -> dash.Dash:
    """Create the app; the layout is built per page load so it follows the data."""
    settings = get_settings().map
    app = dash.Dash(
        __name__,
        title=t("app.title"),
        assets_folder=str(ASSETS),
        serve_locally=True,  # county intranets have no internet: never a CDN
        update_title="",  # no "Updating…" flicker in the tab title
    )
    app.index_string = INDEX
    enable_compression(app.server)
    app.server.register_blueprint(api)
    app.layout = lambda: page(viewer_scope(), settings)
    callbacks.register(app)
    return app
