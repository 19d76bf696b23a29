"""The map page: top bar, breadcrumb, full-screen map and a side panel."""

from __future__ import annotations

import dash_leaflet as dl
from dash import dcc, html

from dashboards import ids
from dashboards.messages import t
from geo import db
from geo.admin import get_area
from geo.scope import Scope
from geo.settings import MapSettings

_AREA_STYLE = {"variable": "onemap.areaStyle"}
_OUTLINE_STYLE = {"variable": "onemap.outlineStyle"}
_EACH_FEATURE = {"variable": "onemap.areaEachFeature"}
_HOUSEHOLD_POINT = {"variable": "onemap.householdPoint"}
_HOUSEHOLD_EACH = {"variable": "onemap.householdEachFeature"}


def basemap(settings: MapSettings) -> list[dl.TileLayer]:
    """A tile layer when a tile URL is configured; none by default (works with no internet)."""
    if not settings.tile_url:
        return []
    return [dl.TileLayer(url=settings.tile_url, attribution=settings.tile_attribution)]


def page(scope: Scope, settings: MapSettings, lang: str = "zh") -> html.Div:
    """Build the page; the map starts on the scope's root area (the URL callback takes over)."""
    with db.connection() as conn:
        root = get_area(conn, scope, scope.prefix)
    return html.Div(
        className="shell",
        children=[
            dcc.Location(id=ids.URL, refresh=False),
            html.Header(
                className="topbar",
                children=[
                    html.H1(t("app.title", lang)),
                    html.Span(t("app.synthetic", lang), className="synthetic"),
                ],
            ),
            html.Nav(id=ids.BREADCRUMB, className="breadcrumb"),
            html.Div(
                className="main",
                children=[
                    dl.Map(
                        id=ids.MAP,
                        className="map",
                        bounds=root.bounds,
                        # The URL, not the viewport, is the state; tracking without an initial
                        # `center` also trips dash-leaflet 1.1.3 on every moveend.
                        trackViewport=False,
                        zoomSnap=0.25,
                        maxZoom=18,
                        attributionControl=bool(settings.tile_url),
                        children=[
                            *basemap(settings),
                            dl.LayerGroup(id=ids.HEAT),
                            dl.GeoJSON(
                                id=ids.AREAS,
                                style=_AREA_STYLE,
                                onEachFeature=_EACH_FEATURE,
                                hoverStyle={"weight": 3, "color": "#0b2540"},
                                hideout={},
                            ),
                            dl.GeoJSON(id=ids.OUTLINE, style=_OUTLINE_STYLE, interactive=False),
                            dl.GeoJSON(
                                id=ids.HOUSEHOLDS,
                                pointToLayer=_HOUSEHOLD_POINT,
                                onEachFeature=_HOUSEHOLD_EACH,
                            ),
                        ],
                    ),
                    html.Aside(id=ids.PANEL, className="panel"),
                ],
            ),
        ],
    )
