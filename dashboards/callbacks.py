"""Callbacks of the map page: the URL drives the view; clicks and links change the URL.

Every callback reads the logged-in user and works inside the user's jurisdiction; the view
is read inside :func:`dashboards.viewer.audited_request`, so a portrait shown writes its audit
row in the transaction that read it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import dash
import dash_leaflet as dl
from dash import ClientsideFunction, Input, Output, State, no_update

from core import db
from core.access import SUPPRESS_BELOW, User
from core.errors import AuditWriteFailed
from core.settings import get_settings
from dashboards import ids
from dashboards.auth import csrf_token
from dashboards.errors import BadRequest
from dashboards.guard import expect_text
from dashboards.layout import HOUSEHOLD_PANE
from dashboards.messages import HTML_LANG, catalog, t
from dashboards.panel import breadcrumb, side_panel, topbar
from dashboards.routes import children_url, heat_url, households_url, outline_url
from dashboards.state import View
from dashboards.viewdata import ViewData, load_view
from dashboards.viewer import audited_request, current_user
from layers.households import HOUSEHOLD_COLOURS
from layers.portrait import household_access

#: The route name of a portrait shown in the map page, in the audit trail.
PORTRAIT_ROUTE = "/_dash-update-component#portrait"


def heat_layer(heat: bool, version: str, user: User, area: str) -> list[Any]:
    """The warning heatmap tile layer of the area in view, when it is switched on.

    It sits in its own pane above the area polygons (which are filled) and below the
    households, and lets clicks through to the areas; it paints nothing outside ``area``.
    """
    if not heat:
        return []
    tiles = dl.TileLayer(
        url=heat_url(version, user, area),
        opacity=0.85,
        maxZoom=18,
        className="onemap-heat",
        id="heat-tiles",
    )
    return [dl.Pane(tiles, name="heat", style={"zIndex": 450, "pointerEvents": "none"})]


def area_hideout(data: ViewData) -> dict[str, Any]:
    """Styling data of the area layer: the choropleth plus its labels in the view's language."""
    lang = data.view.lang
    return data.shading.hideout() | {
        "unit": t(f"measure.{data.shading.measure.key}.unit", lang),
        "noDataLabel": t("tooltip.no_data", lang),
        # The heatmap is read over a dimmed choropleth.
        "dim": data.view.heat,
    }


def household_hideout(data: ViewData) -> dict[str, Any]:
    """Styling data of the household layer: colours by warning level and tooltip texts."""
    lang = data.view.lang
    statuses = [key.split(".", 2)[2] for key in catalog() if key.startswith("value.status.")]
    suppressed = data.viewer.permissions.suppress_small_counts
    return {
        # Cluster counts below this are shown as "<5" (0: exact counts).
        "suppressBelow": SUPPRESS_BELOW if suppressed else 0,
        "pane": HOUSEHOLD_PANE,
        "colours": HOUSEHOLD_COLOURS,
        "order": list(reversed(HOUSEHOLD_COLOURS)),  # none → red: the last present wins
        "selected": data.view.household,
        "labels": {
            "size": t("tooltip.size", lang),
            "estimated": t("tooltip.estimated", lang),
            "cluster": t("tooltip.cluster", lang),
            "deidentified": t("tooltip.deidentified", lang),
            "status": {s: t(f"value.status.{s}", lang) for s in statuses},
            "level": {level: t(f"warning.level.{level}", lang) for level in HOUSEHOLD_COLOURS},
        },
    }


def read_view(user: User, view: View) -> ViewData:
    """Read a view in the user's jurisdiction; a portrait shown is audited.

    The audit row is written in the transaction that read the portrait; if it cannot be
    written the portrait is not shown (the rest of the view holds no personal data).
    """
    data: ViewData | None = None
    try:
        with audited_request(user, route=PORTRAIT_ROUTE) as trail:
            data = load_view(trail, view)
    except AuditWriteFailed:
        if data is None:
            raise
        return replace(
            data, portrait=None, view=data.view.with_household(None), message="error.audit_failed"
        )
    return data


def _property(feature: Any, name: str) -> Any:
    """A property of a clicked map feature (``clickData``); anything malformed is refused."""
    if feature is None:
        return None
    properties = feature.get("properties") if isinstance(feature, dict) else None
    if not isinstance(properties, dict | None):
        raise BadRequest("clickData without a properties object")
    value = (properties or {}).get(name)
    if not isinstance(value, str | None):
        raise BadRequest(f"clickData {name} is not text")
    return value


def register(app: dash.Dash) -> None:
    """Attach the callbacks to ``app``."""

    @app.callback(
        Output(ids.AREAS, "url"),
        Output(ids.AREAS, "hideout"),
        Output(ids.OUTLINE, "url"),
        Output(ids.HOUSEHOLDS, "url"),
        Output(ids.HOUSEHOLDS, "cluster"),
        Output(ids.HOUSEHOLDS, "hideout"),
        Output(ids.HEAT, "children"),
        Output(ids.TOPBAR, "children"),
        Output(ids.BREADCRUMB, "children"),
        Output(ids.PANEL, "children"),
        Output(ids.DOCUMENT, "data"),
        Output(ids.FIT, "data"),
        Output(ids.FITTED, "data"),
        Input(ids.URL, "search"),
        State(ids.FITTED, "data"),
    )
    def show_view(search: str | None, fitted: str | None) -> tuple[Any, ...]:
        user = current_user()
        fitted = expect_text(fitted)  # a store; the URL's search is checked by the guard
        data = read_view(user, View.from_search(search, user.jurisdiction))
        area, view = data.area, data.view
        # Fit the map when the area changes, not when a household or the language does (in the
        # browser: dash-leaflet's own `viewport` logs each fit to the console).
        fit = {"bounds": (data.focus or area).bounds, "area": area.code}
        return (
            children_url(area.code, data.geography_version),
            area_hideout(data),
            outline_url(area.code, data.geography_version),
            households_url(area.code, data.published, user.jurisdiction, data.month),
            data.clustered,
            household_hideout(data),
            heat_layer(view.heat, data.heat, user, area.code),
            topbar(view.lang, user, csrf_token()),
            breadcrumb(data.trail, view),
            side_panel(data, get_settings().map.public_url),
            {"lang": HTML_LANG[view.lang], "title": t("app.title", view.lang)},
            no_update if fitted == area.code else fit,
            area.code,
        )

    @app.callback(
        Output(ids.URL, "search"),
        Input(ids.AREAS, "clickData"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    def drill_down(feature: dict[str, Any] | None, search: str | None) -> Any:
        code = _property(feature, "code")
        user = current_user()
        view = View.from_search(search, user.jurisdiction)
        if not code or code == view.area or not user.scope.sees(str(code)):
            return no_update  # the village already shown on its own, or not the user's
        return view.to_area(str(code)).search()

    @app.callback(
        Output(ids.URL, "search", allow_duplicate=True),
        Input(ids.HOUSEHOLDS, "clickData"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    def pick_household(feature: dict[str, Any] | None, search: str | None) -> Any:
        household_id = _property(feature, "household_id")
        user = current_user()
        view = View.from_search(search, user.jurisdiction)
        if not household_id or household_id == view.household:
            return no_update  # a cluster (it zooms in), a de-identified point, or already open
        with db.scoped(user.scope) as conn:
            visible = household_access(conn, user.scope, str(household_id)) is not None
        return view.with_household(str(household_id)).search() if visible else no_update

    app.clientside_callback(
        ClientsideFunction(namespace="onemap", function_name="fitArea"),
        Output(ids.FIT_DONE, "data"),
        Input(ids.FIT, "data"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace="onemap", function_name="setDocument"),
        Output(ids.DOCUMENT_SET, "data"),
        Input(ids.DOCUMENT, "data"),
    )
