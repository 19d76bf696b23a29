"""The wall screen (大屏) ``/wall/<area>``: dark, full screen, a tour through the area's children.

A Dash app of its own. The map (children shaded by warnings per 100 households, with the
warning heatmap from de-identified points) stays put; each tour step changes only the
highlighted child, the KPIs, the trend strip and the worst villages. A poll of the data
version refreshes the figures in place when a month or warnings are published (no reload).
Aggregates only, small counts suppressed, whatever the viewer's role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import dash
import dash_leaflet as dl
from dash import ClientsideFunction, Input, Output, State, dcc, html, no_update

from core import db
from core.errors import OutOfScope
from core.scope import is_admin_code
from dashboards.errors import BadRequest
from dashboards.messages import normalise_lang, t
from dashboards.recent import Recent
from dashboards.wall_access import WALL_PREFIX, current_grant
from dashboards.websettings import get_web_settings
from layers.choropleth import children_choropleth, suppressed
from layers.deidentify import protected_counts
from layers.months import month_label
from layers.wall import WallFigures, tour_areas, wall_figures, wall_version

_AREA_STYLE = {"variable": "onemapWall.areaStyle"}
#: The figures of the areas walls show, per data version (shared by every wall of a process).
_FIGURES = Recent(128, seconds=60.0)
LEVEL_COLOURS = {"red": "#ff3b3b", "orange": "#ff9a2e", "yellow": "#ffd84a"}
#: The trend strip's type: this share of the screen's height, never below the 1080p size.
TREND_TYPE_SHARE = 0.022
TREND_TYPE_MIN = 22.0
#: The screen height (px) drawn for until the browser tells its own, and the most believed.
DEFAULT_SCREEN_HEIGHT = 1080
MAX_SCREEN_HEIGHT = 20_000
#: The trend strip's margins (px) at TREND_TYPE_MIN; they grow with its type.
MARGINS = {"l": 90, "r": 20, "t": 50, "b": 50}


@dataclass(frozen=True, slots=True)
class WallView:
    """A wall's URL: ``/wall/<area>?tour=<seconds>&lang=<zh|en>``."""

    area: str
    tour_seconds: float
    lang: str

    @classmethod
    def parse(cls, pathname: str | None, search: str | None, default_area: str) -> WallView:
        """Read the URL; a malformed area means the grant's own area."""
        code = (pathname or "").removeprefix(WALL_PREFIX).strip("/")
        query = parse_qs((search or "").lstrip("?"))
        settings = get_web_settings()
        try:
            tour = float(query.get("tour", [settings.wall_tour_seconds])[0])
        except ValueError:
            tour = settings.wall_tour_seconds
        return cls(
            code if is_admin_code(code) else default_area,
            min(max(tour, 0.2), 3600.0),
            normalise_lang(query.get("lang", [None])[0]),
        )


def _fit(*values: str, unit: str = "") -> dict[str, str]:
    """The ``--kpi-ems`` the CSS shrinks a KPI value by: its width in ems of its own type.

    Bold digits are about 0.58 em wide, the level counts stand 0.5 em apart, and a unit adds
    its 0.3 em gap and its smaller type (under half the value's).
    """
    ems = 0.58 * sum(map(len, values)) + 0.5 * (len(values) - 1)
    ems += 0.3 + 0.45 * len(unit) if unit else 0.0
    return {"--kpi-ems": f"{ems + 0.2:.2f}"}


def _kpi(label: str, value: Any, unit: str = "", kpi_id: str = "") -> html.Div:
    shown = "—" if value is None else f"{value:,}" if isinstance(value, int) else str(value)
    return html.Div(
        className="wall-kpi",
        id=kpi_id,
        children=[
            html.Div(label, className="wall-kpi-label"),
            html.Div(
                [shown, html.Span(unit, className="wall-kpi-unit")],
                className="wall-kpi-value",
                style=_fit(shown, unit=unit),
            ),
        ],
    )


def _signed(value: float | None) -> str | None:
    return None if value is None else f"{value:+.1f}"


def kpi_tiles(figures: WallFigures, lang: str) -> list[Any]:
    """Six KPIs in type readable from 4 m."""
    k = figures.kpis
    counts = {level: "—" if k[level] is None else f"{k[level]}" for level in LEVEL_COLOURS}
    levels = html.Div(
        className="wall-kpi wall-kpi-wide",  # three counts: the column's whole width
        id="kpi-warnings",
        children=[
            html.Div(t("wall.kpi.warnings", lang), className="wall-kpi-label"),
            html.Div(
                className="wall-kpi-value wall-levels",
                style=_fit(*counts.values()),
                children=[
                    html.Span(
                        counts[level], style={"color": colour}, className=f"wall-level-{level}"
                    )
                    for level, colour in LEVEL_COLOURS.items()
                ],
            ),
        ],
    )
    percent = t("wall.unit.percent", lang)
    return [
        _kpi(t("wall.kpi.households", lang), k["households"], "", "kpi-households"),
        levels,
        _kpi(t("wall.kpi.response", lang), k["response_3h"], percent, "kpi-response"),
        _kpi(t("wall.kpi.gaps", lang), k["benefit_gaps"], "", "kpi-gaps"),
        _kpi(t("wall.kpi.sharing", lang), k["sharing"], percent, "kpi-sharing"),
        _kpi(t("wall.kpi.change", lang), _signed(k["warnings_change"]), percent, "kpi-change"),
    ]


def trend_type(screen_height: Any) -> float:
    """The trend strip's font size (px) on a screen ``screen_height`` px high.

    The height comes from the browser: anything but a plausible number means 1080p.
    """
    plausible = isinstance(screen_height, int | float) and 0 < screen_height <= MAX_SCREEN_HEIGHT
    height = screen_height if plausible else DEFAULT_SCREEN_HEIGHT
    return round(max(TREND_TYPE_MIN, TREND_TYPE_SHARE * height), 1)


def trend_figure(
    figures: WallFigures, lang: str, screen_height: Any = DEFAULT_SCREEN_HEIGHT
) -> dict[str, Any]:
    """The trend strip: warnings by level over the last months, stacked bars on dark.

    Its type and margins grow with the screen's height, as the CSS type does. The levels'
    colours are keyed in the title, in its type: Plotly draws a bar legend's swatches 12 px
    whatever the font, a speck on a 4K wall.
    """
    size = trend_type(screen_height)
    scale = size / TREND_TYPE_MIN
    key = "\u2003".join(
        f'<span style="color:{colour}">■ {t(f"warning.level.{level}", lang)}</span>'
        for level, colour in LEVEL_COLOURS.items()
    )
    traces = [
        {
            "type": "bar",
            "name": t(f"warning.level.{level}", lang),
            "x": figures.trend_months,
            "y": figures.trend[f"warnings_{level}"],
            "marker": {"color": colour},
        }
        for level, colour in LEVEL_COLOURS.items()
    ]
    layout = {
        "barmode": "stack",
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"color": "#d8e4f0", "size": size},
        "margin": {side: round(px * scale) for side, px in MARGINS.items()},
        "title": {
            "text": f"{t('wall.trend', lang, months=len(figures.trend_months))}\u2003\u2003{key}",
            "x": 0.01,
        },
        "showlegend": False,
        "xaxis": {"type": "category"},
        # Plotly picks the number of ticks by the axis' length in pixels, not by its type.
        "yaxis": {
            "gridcolor": "#23384f",
            "nticks": 5,
            "title": {"text": t("wall.unit.households", lang)},
        },
        "autosize": True,
    }
    return {"data": traces, "layout": layout}


def worst_list(figures: WallFigures, lang: str) -> list[Any]:
    """The villages with most warnings per 100 households (counts suppressed below 5)."""
    rows = [
        html.Li(
            [
                html.Span(f"{name}", className="wall-village"),
                html.Span(town, className="wall-town"),
                html.Span(f"{warnings}", className="wall-rate"),
            ]
        )
        for name, town, warnings, _red, _rate in figures.worst
    ]
    return [html.H2(t("wall.worst", lang)), html.Ol(rows, id="wall-worst-list")]


def layout() -> Any:
    """The screen's shell; the callbacks fill it from the URL."""
    settings = get_web_settings()
    return html.Div(
        className="wall",
        children=[
            dcc.Location(id="wall-url", refresh=False),
            dcc.Store(id="wall-version"),
            dcc.Store(id="wall-polled"),
            dcc.Store(id="wall-tour-areas"),
            dcc.Store(id="wall-shading"),
            dcc.Store(id="wall-screen"),  # the screen's height (px), told by the browser
            dcc.Interval(id="wall-tour", interval=int(settings.wall_tour_seconds * 1000)),
            dcc.Interval(id="wall-poll", interval=int(settings.wall_poll_seconds * 1000)),
            html.Header(
                className="wall-head",
                children=[
                    html.H1(id="wall-title"),
                    html.Span(id="wall-month", className="wall-month"),
                    html.Span(id="wall-synthetic", className="wall-synthetic"),
                ],
            ),
            html.Div(
                className="wall-main",
                children=[
                    dl.Map(
                        id="wall-map",
                        className="wall-map",
                        center=[29.2, 120.1],
                        zoom=8,
                        zoomSnap=0.1,
                        zoomControl=False,
                        dragging=False,
                        scrollWheelZoom=False,
                        doubleClickZoom=False,
                        attributionControl=False,
                        trackViewport=False,
                        children=[
                            dl.GeoJSON(id="wall-areas", style=_AREA_STYLE, hideout={}),
                            dl.LayerGroup(id="wall-heat"),
                        ],
                    ),
                    html.Div(id="wall-kpis", className="wall-kpis"),
                    html.Div(id="wall-worst", className="wall-worst"),
                ],
            ),
            dcc.Graph(
                id="wall-trend",
                className="wall-trend",
                config={"staticPlot": True, "responsive": True},
                style={"height": "100%"},
            ),
        ],
    )


def _setup(view: WallView) -> tuple[Any, ...]:
    grant = current_grant()
    if not grant.scope.covers(view.area):
        raise OutOfScope(f"wall of {view.area} outside the grant {grant.area}")
    with db.scoped(grant.scope) as conn:
        areas = tour_areas(conn, grant.scope, view.area)
        shading = suppressed(
            children_choropleth(conn, grant.scope, view.area, "warnings_per_100"),
            protected_counts(conn, grant.scope),
        )
        version = wall_version(conn)
    heat = dl.TileLayer(
        url=f"/wall/tiles/heat/{{z}}/{{x}}/{{y}}.png?v={version}&s={grant.area}",
        opacity=0.8,
        id="wall-heat-tiles",
    )
    root = areas[0]
    return (
        f"/wall/api/areas/{view.area}/children.geojson",
        {"bounds": root.bounds, "transition": "fitBounds"},
        [dl.Pane(heat, name="wallheat", style={"zIndex": 450, "pointerEvents": "none"})],
        [[a.code, a.name] for a in areas],
        shading.hideout(),
        int(view.tour_seconds * 1000),
        version,
    )


def stored_tour(areas: Any) -> list[tuple[str, str]]:
    """The tour the setup stored (``[[code, name], …]``) as (code, name) pairs.

    Raises
    ------
    BadRequest
        A store the setup never wrote (the browser sends it back; anyone can edit it).
    """
    if areas is None:
        return []
    tour: list[tuple[str, str]] = []
    for pair in areas if isinstance(areas, list) else [None]:
        match pair:
            case [str(code), str(name)] if is_admin_code(code):
                tour.append((code, name))
            case _:
                raise BadRequest("the wall's tour is not a list of areas")
    return tour


def mount(server: Any, dash_class: type[dash.Dash], **options: Any) -> dash.Dash:
    """Mount the wall screen on ``server`` under ``/wall/``."""
    app = dash_class(__name__, server=server, url_base_pathname=WALL_PREFIX, **options)
    app.layout = layout

    @app.callback(
        Output("wall-areas", "url"),
        Output("wall-map", "viewport"),
        Output("wall-heat", "children"),
        Output("wall-tour-areas", "data"),
        Output("wall-shading", "data"),
        Output("wall-tour", "interval"),
        Output("wall-version", "data"),
        Input("wall-url", "pathname"),
        Input("wall-url", "search"),
        Input("wall-polled", "data"),
    )
    def setup(pathname: str | None, search: str | None, _polled: str | None) -> tuple[Any, ...]:
        return _setup(WallView.parse(pathname, search, current_grant().area))

    @app.callback(
        Output("wall-title", "children"),
        Output("wall-month", "children"),
        Output("wall-synthetic", "children"),
        Output("wall-kpis", "children"),
        Output("wall-worst", "children"),
        Output("wall-trend", "figure"),
        Output("wall-areas", "hideout"),
        Input("wall-tour", "n_intervals"),
        Input("wall-tour-areas", "data"),
        Input("wall-screen", "data"),
        State("wall-shading", "data"),
        State("wall-url", "search"),
    )
    def step(
        n: int | None,
        areas: list[list[str]] | None,
        screen_height: Any,
        shading: dict[str, Any] | None,
        search: str | None,
    ) -> tuple[Any, ...]:
        tour = stored_tour(areas)
        if not tour:
            return (no_update,) * 7
        grant = current_grant()
        lang = WallView.parse(None, search, grant.area).lang
        code = tour[(n or 0) % len(tour)][0]
        grant.scope.require(code)
        with db.scoped(grant.scope) as conn:
            # Every wall touring the same area shows the same aggregates: read once per data
            # version (and at most a minute old: closing warnings does not change the version).
            key = (code, wall_version(conn))
            figures = _FIGURES.get(key, lambda: wall_figures(conn, grant.scope, code))
        home, home_name = tour[0]
        title = f"{home_name} · {figures.area.name}" if code != home else home_name
        return (
            title,
            t("wall.month", lang, month=month_label(figures.month)),
            t("app.synthetic", lang),
            kpi_tiles(figures, lang),
            worst_list(figures, lang),
            trend_figure(figures, lang, screen_height),
            (shading if isinstance(shading, dict) else {}) | {"selected": code},
        )

    app.clientside_callback(
        ClientsideFunction(namespace="onemapWall", function_name="screenHeight"),
        Output("wall-screen", "data"),
        Input("wall-url", "pathname"),
    )

    @app.callback(
        Output("wall-polled", "data"),
        Input("wall-poll", "n_intervals"),
        State("wall-version", "data"),
        prevent_initial_call=True,
    )
    def poll(_n: int | None, known: str | None) -> Any:
        grant = current_grant()
        with db.scoped(grant.scope) as conn:
            version = wall_version(conn)
        return no_update if version == known else version

    return app
