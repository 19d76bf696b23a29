"""The pages beside the map, each a Dash app of its own on the map's Flask server.

Statistics (``/stats/``), the wall screen (``/wall/<area>``), supervision (``/supervision/``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import dash
from flask import Flask, request

from dashboards import guard, stats_page, supervision_page, wall_page
from dashboards.stats_downloads import stats_downloads
from dashboards.supervision_downloads import supervision_downloads
from dashboards.supervision_view import require_supervision
from dashboards.viewer import optional_user
from dashboards.wall_routes import wall_routes

#: Every path of the supervision page: its page, layout, callbacks and downloads.
#: The last part of every Dash app's callback path.
CALLBACK = "_dash-update-component"
SUPERVISION_PATHS = (supervision_page.PREFIX, "/downloads/supervision/")


def supervision_gate() -> None:
    """Refuse the supervision page and its routes (403) to roles that may not open it."""
    user = optional_user()
    if user is not None and request.path.startswith(SUPERVISION_PATHS):
        require_supervision(user)


def mount_pages(server: Flask, dash_class: type[dash.Dash], **options: Any) -> None:
    """Mount every page and its Flask routes; ``options`` are the map app's Dash options."""
    server.before_request(supervision_gate)  # after the login gate: the user is known
    server.register_blueprint(stats_downloads)
    server.register_blueprint(supervision_downloads)
    server.register_blueprint(wall_routes)
    for page in (stats_page, wall_page, supervision_page):
        app = page.mount(server, dash_class, **options)
        # Each page's callbacks get the same body check as the map's (a 4xx, never a 500).
        path = str(app.config.requests_pathname_prefix) + CALLBACK
        guard.guard_callbacks(server, partial(getattr, app, "callback_map"), path)
