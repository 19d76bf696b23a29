"""Callbacks of the map page: the URL drives the view; clicks and links change the URL."""

from __future__ import annotations

from typing import Any

import dash
import dash_leaflet as dl
from dash import ClientsideFunction, Input, Output, State, no_update

from dashboards import ids
from dashboards.layout import HOUSEHOLD_PANE
from dashboards.messages import HTML_LANG, catalog, t
from dashboards.panel import breadcrumb, side_panel, topbar
from dashboards.routes import children_url, heat_url, households_url, outline_url, viewer_scope
from dashboards.state import View
from dashboards.viewdata import ViewData, load_view
from geo import db
from geo.settings import get_settings
from layers.households import HOUSEHOLD_COLOURS


def heat_layer(heat: bool, version: str) -> list[Any]:
    """The warning heatmap tile layer, when it is switched on.

    It sits in its own pane above the area polygons (which are filled) and below the
    households, and lets clicks through to the areas.
    """
    if not heat:
        return []
    tiles = dl.TileLayer(
        url=heat_url(version), opacity=0.85, maxZoom=18, className="onemap-heat", id="heat-tiles"
    )
    return [dl.Pane(tiles, name="heat", style={"zIndex": 450, "pointerEvents": "none"})]


def area_hideout(data: ViewData) -> dict[str, Any]:
    """Styling data of the area layer: the choropleth plus its labels in the view's language."""
    lang = data.view.lang
    return data.shading.hideout() | {
        "unit": t(f"measure.{data.shading.measure.key}.unit", lang),
        "noDataLabel": t("tooltip.no_data", lang),
    }


def household_hideout(data: ViewData) -> dict[str, Any]:
    """Styling data of the household layer: colours by warning level and tooltip texts."""
    lang = data.view.lang
    statuses = [key.split(".", 2)[2] for key in catalog() if key.startswith("value.status.")]
    return {
        "pane": HOUSEHOLD_PANE,
        "colours": HOUSEHOLD_COLOURS,
        "order": list(reversed(HOUSEHOLD_COLOURS)),  # none → red: the last present wins
        "selected": data.view.household,
        "labels": {
            "size": t("tooltip.size", lang),
            "estimated": t("tooltip.estimated", lang),
            "cluster": t("tooltip.cluster", lang),
            "status": {s: t(f"value.status.{s}", lang) for s in statuses},
            "level": {level: t(f"warning.level.{level}", lang) for level in HOUSEHOLD_COLOURS},
        },
    }


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
        Output(ids.MAP, "viewport"),
        Output(ids.FITTED, "data"),
        Input(ids.URL, "search"),
        State(ids.FITTED, "data"),
    )
    def show_view(search: str | None, fitted: str | None) -> tuple[Any, ...]:
        scope = viewer_scope()
        with db.connection() as conn:
            data = load_view(conn, scope, View.from_search(search, scope.prefix))
        area, view = data.area, data.view
        # Fit the map when the area changes, not when a household or the language does.
        viewport = {"bounds": area.bounds, "transition": "fitBounds"}
        return (
            children_url(area.code, data.geography_version),
            area_hideout(data),
            outline_url(area.code, data.geography_version),
            households_url(area.code, data.published),
            data.clustered,
            household_hideout(data),
            heat_layer(view.heat, data.heat),
            topbar(view.lang),
            breadcrumb(data.trail, view),
            side_panel(data, get_settings().map.public_url),
            {"lang": HTML_LANG[view.lang], "title": t("app.title", view.lang)},
            no_update if fitted == area.code else viewport,
            area.code,
        )

    @app.callback(
        Output(ids.URL, "search"),
        Input(ids.AREAS, "clickData"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    def drill_down(feature: dict[str, Any] | None, search: str | None) -> Any:
        code = ((feature or {}).get("properties") or {}).get("code")
        view = View.from_search(search, viewer_scope().prefix)
        if not code or code == view.area:
            return no_update  # the village already shown on its own
        return view.to_area(str(code)).search()

    @app.callback(
        Output(ids.URL, "search", allow_duplicate=True),
        Input(ids.HOUSEHOLDS, "clickData"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    def pick_household(feature: dict[str, Any] | None, search: str | None) -> Any:
        household_id = ((feature or {}).get("properties") or {}).get("household_id")
        view = View.from_search(search, viewer_scope().prefix)
        if not household_id or household_id == view.household:
            return no_update  # a cluster (it zooms in) or the household already open
        return view.with_household(str(household_id)).search()

    app.clientside_callback(
        ClientsideFunction(namespace="onemap", function_name="setDocument"),
        Output(ids.DOCUMENT_SET, "data"),
        Input(ids.DOCUMENT, "data"),
    )
