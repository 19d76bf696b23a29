"""The map page: top bar, breadcrumb, full-screen map and a side panel (a sheet on phones)."""

from __future__ import annotations

import dash_leaflet as dl
from dash import dcc, html

from core import db
from core.access import User
from core.settings import MapSettings
from dashboards import ids
from dashboards.auth import csrf_token
from dashboards.messages import DEFAULT_LANG, t
from dashboards.panel import aria_label, topbar
from geo.admin import get_area

_AREA_STYLE = {"variable": "onemap.areaStyle"}
_OUTLINE_STYLE = {"variable": "onemap.outlineStyle"}
_EACH_FEATURE = {"variable": "onemap.areaEachFeature"}
_HOUSEHOLD_POINT = {"variable": "onemap.householdPoint"}
_HOUSEHOLD_STYLE = {"variable": "onemap.householdStyle"}
_HOUSEHOLD_EACH = {"variable": "onemap.householdEachFeature"}
_HOUSEHOLD_CLUSTER = {"variable": "onemap.householdCluster"}
#: The map pane of household points: above the areas (400) and the heatmap (450).
HOUSEHOLD_PANE = "households"
#: Supercluster settings: clusters dissolve into single households from zoom 16 on.
SUPERCLUSTER = {"radius": 40, "extent": 256, "maxZoom": 15, "minPoints": 3}


def basemap(settings: MapSettings) -> list[dl.TileLayer]:
    """A tile layer when a tile URL is configured; none by default (works with no internet)."""
    if not settings.tile_url:
        return []
    return [dl.TileLayer(url=settings.tile_url, attribution=settings.tile_attribution)]


def households_layer() -> dl.Pane:
    """Household points, clustered by the URL callback where there are many (supercluster)."""
    layer = dl.GeoJSON(
        id=ids.HOUSEHOLDS,
        pointToLayer=_HOUSEHOLD_POINT,
        style=_HOUSEHOLD_STYLE,
        onEachFeature=_HOUSEHOLD_EACH,
        clusterToLayer=_HOUSEHOLD_CLUSTER,
        cluster=False,
        superClusterOptions=SUPERCLUSTER,
        zoomToBoundsOnClick=True,
        hideout={},
    )
    return dl.Pane(layer, name=HOUSEHOLD_PANE, style={"zIndex": 500})


def sheet() -> html.Aside:
    """The panel's frame: beside the map on desks, a bottom sheet with a handle on phones."""
    return html.Aside(
        id=ids.SHEET,
        className="panel sheet",
        children=[
            html.Button(
                html.Span(className="grip"),
                className="sheet-handle",
                type="button",
                id="sheet-handle",
                title=t("sheet.handle", DEFAULT_LANG),
                **aria_label(t("sheet.handle", DEFAULT_LANG)),
            ),
            html.Div(id=ids.PANEL, className="panel-body"),
        ],
    )


def page(user: User, settings: MapSettings) -> html.Div:
    """Build the page; the map starts on the user's jurisdiction (the URL callback takes over).

    Language-dependent texts are filled by the URL callback; the top bar starts in Chinese so
    the synthetic-data notice is there from the first paint.
    """
    with db.scoped(user.scope) as conn:
        root = get_area(conn, user.scope, user.jurisdiction)
    return html.Div(
        className="shell",
        children=[
            dcc.Location(id=ids.URL, refresh=False),
            dcc.Store(id=ids.FITTED),
            dcc.Store(id=ids.DOCUMENT),
            dcc.Store(id=ids.DOCUMENT_SET),
            dcc.Store(id=ids.FIT),
            dcc.Store(id=ids.FIT_DONE),
            html.Header(
                className="topbar",
                id=ids.TOPBAR,
                children=topbar(DEFAULT_LANG, user, csrf_token()),
            ),
            html.Nav(
                id=ids.BREADCRUMB,
                className="breadcrumb",
                **aria_label(t("breadcrumb.label", DEFAULT_LANG)),
            ),
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
                            dl.ScaleControl(position="bottomleft", imperial=False, id="scale"),
                            dl.LayerGroup(id=ids.HEAT),
                            dl.GeoJSON(
                                id=ids.AREAS,
                                style=_AREA_STYLE,
                                onEachFeature=_EACH_FEATURE,
                                hoverStyle={"weight": 3, "color": "#0b2540"},
                                hideout={},
                            ),
                            dl.GeoJSON(id=ids.OUTLINE, style=_OUTLINE_STYLE, interactive=False),
                            households_layer(),
                        ],
                    ),
                    sheet(),
                ],
            ),
        ],
    )
