"""Callbacks of the map page: the URL drives the view; clicks and breadcrumbs change the URL."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode

import dash
import dash_leaflet as dl
from dash import Input, Output, State, dcc, html, no_update

from dashboards import ids
from dashboards.messages import t
from dashboards.portrait import portrait_panel
from dashboards.routes import (
    children_url,
    heat_url,
    households_url,
    outline_url,
    viewer_scope,
)
from geo import db
from geo.admin import Area, children, data_version, lineage
from geo.errors import OutOfScope, UnknownArea
from geo.settings import get_settings
from layers.choropleth import Choropleth, children_choropleth
from layers.heatmap import heat_version
from layers.households import published_version
from layers.measures import DEFAULT_MEASURE, MEASURES
from layers.portrait import household_portrait


def area_from_search(search: str | None, default: str) -> str:
    """Read ``?area=<code>`` from the URL's query string."""
    values = parse_qs((search or "").lstrip("?")).get("area", [])
    return values[0] if values else default


def measure_from_search(search: str | None) -> str:
    """Read ``?layer=<measure>``; anything not in the catalog means the default measure."""
    values = parse_qs((search or "").lstrip("?")).get("layer", [])
    return values[0] if values and values[0] in MEASURES else DEFAULT_MEASURE


def heat_from_search(search: str | None) -> bool:
    """Read ``?heat=1`` (the warning heatmap is shown)."""
    return parse_qs((search or "").lstrip("?")).get("heat", ["0"])[0] == "1"


def view_url(code: str, measure: str, heat: bool = False) -> str:
    """The deep link of a view: the area, the measure and whether the heatmap is on."""
    query = {"area": code, "layer": measure} | ({"heat": "1"} if heat else {})
    return "/?" + urlencode(query)


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


def measure_links(code: str, current: str, lang: str, heat: bool = False) -> html.Div:
    """One link per measure (the URL is the state: links keep history and deep links)."""
    toggle = dcc.Link(
        ("关闭预警热力图" if heat else "显示预警热力图")
        if lang == "zh"
        else ("Hide warning heatmap" if heat else "Show warning heatmap"),
        href=view_url(code, current, not heat),
        id="heat-toggle",
        className="measure current" if heat else "measure",
    )
    return html.Div(
        className="measures",
        children=[toggle]
        + [
            dcc.Link(
                m.name_zh if lang == "zh" else m.name_en,
                href=view_url(code, m.key, heat),
                className="measure current" if m.key == current else "measure",
                id={"type": "measure-link", "index": m.key},
            )
            for m in MEASURES.values()
        ],
    )


def legend(choropleth: Choropleth, lang: str) -> html.Div:
    """The legend of the current measure, with its unit and the count per class."""
    measure = choropleth.measure
    unit = measure.unit_zh if lang == "zh" else measure.unit_en
    rows = [
        html.Div(
            className="legend-row",
            children=[
                html.Span(className="swatch", style={"background": entry.colour}),
                html.Span(
                    f"{entry.low:,.{measure.decimals}f} – {entry.high:,.{measure.decimals}f}"
                ),
                html.Span(f"({entry.count})", className="legend-count"),
            ],
        )
        for entry in choropleth.legend
    ]
    month = choropleth.month.strftime("%Y-%m") if choropleth.month else "—"
    title = measure.name_zh if lang == "zh" else measure.name_en
    return html.Div(
        className="legend",
        id="legend",
        children=[html.H3(f"{title}（{unit}）"), html.Div(month, className="legend-month"), *rows],
    )


def breadcrumb(
    trail: list[Area], lang: str, measure: str = DEFAULT_MEASURE, heat: bool = False
) -> list[Any]:
    """Links back to every ancestor; the current area as plain text."""
    items: list[Any] = []
    for position, area in enumerate(trail):
        if position:
            items.append(html.Span("›", className="sep"))
        if position == len(trail) - 1:
            items.append(html.Span(area.name, className="current", id="breadcrumb-current"))
        else:
            items.append(
                dcc.Link(area.name, href=view_url(area.code, measure, heat), title=area.code)
            )
    return items


def panel(area: Area, n_children: int, lang: str, message: str | None = None) -> list[Any]:
    """The side panel for the current area."""
    content: list[Any] = []
    if message:
        content.append(html.P(message, className="error"))
    content += [
        html.H2(area.name),
        html.Dl(
            [
                html.Dt(t("panel.code", lang)),
                html.Dd(area.code),
                html.Dt(t("panel.level", lang)),
                html.Dd(t(f"level.{area.level}", lang)),
                html.Dt(t("panel.kind", lang)),
                html.Dd(area.kind),
                html.Dt(t("panel.children", lang)),
                html.Dd(str(n_children)),
            ]
        ),
    ]
    if area.synthetic:
        content.append(html.P(t("panel.synthetic_area", lang), className="note"))
    if n_children:
        content.append(html.P(t("panel.click_hint", lang)))
    return content


def register(app: dash.Dash) -> None:
    """Attach the callbacks to ``app``."""

    @app.callback(
        Output(ids.AREAS, "url"),
        Output(ids.OUTLINE, "url"),
        Output(ids.HOUSEHOLDS, "url"),
        Output(ids.BREADCRUMB, "children"),
        Output(ids.PANEL, "children"),
        Output(ids.MAP, "viewport"),
        Output(ids.AREAS, "hideout"),
        Output(ids.HEAT, "children"),
        Input(ids.URL, "search"),
    )
    def show_area(search: str | None) -> tuple[Any, ...]:
        scope = viewer_scope()
        code = area_from_search(search, scope.prefix)
        measure = measure_from_search(search)
        heat = heat_from_search(search)
        lang = "zh"
        message = None
        with db.connection() as conn:
            try:
                trail = lineage(conn, scope, code)
            except (UnknownArea, OutOfScope) as error:
                message = t(
                    "error.out_of_scope" if isinstance(error, OutOfScope) else "error.unknown_area",
                    lang,
                )
                code = scope.prefix
                trail = lineage(conn, scope, code)
            kids = children(conn, scope, code)
            shading = children_choropleth(conn, scope, code, measure)
            heat_tiles = heat_version(conn)
            version = data_version(conn)
            published = published_version(conn)
        area = trail[-1]
        viewport = {"bounds": area.bounds, "transition": "fitBounds"}
        return (
            children_url(code, version),
            outline_url(code, version),
            households_url(code, published),
            breadcrumb(trail, lang, measure, heat),
            [
                *panel(area, len(kids), lang, message),
                measure_links(code, measure, lang, heat),
                legend(shading, lang),
            ],
            viewport,
            shading.hideout(),
            heat_layer(heat, heat_tiles),
        )

    @app.callback(
        Output(ids.URL, "search"),
        Input(ids.AREAS, "clickData"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    def drill_down(feature: dict[str, Any] | None, search: str | None) -> Any:
        code = ((feature or {}).get("properties") or {}).get("code")
        if not code or code == area_from_search(search, viewer_scope().prefix):
            return no_update  # the village already shown on its own
        # The view's URL without its leading "/": Location.search starts at "?".
        return view_url(code, measure_from_search(search), heat_from_search(search))[1:]

    @app.callback(
        Output(ids.PANEL, "children", allow_duplicate=True),
        Input(ids.HOUSEHOLDS, "clickData"),
        prevent_initial_call=True,
    )
    def show_household(feature: dict[str, Any] | None) -> Any:
        household_id = ((feature or {}).get("properties") or {}).get("household_id")
        if not household_id:
            return no_update
        with db.connection() as conn:
            portrait = household_portrait(conn, viewer_scope(), str(household_id))
        return portrait_panel(portrait, get_settings().map.public_url)
