"""The statistics page (``/stats/?area=…&month=…&layer=…&lang=…``): charts, ranking, downloads.

A Dash app of its own on the same Flask server. The URL is the state (:class:`View`); the
one callback reads :func:`layers.statistics.area_statistics` in the viewer's scope and turns
its tables into Plotly figures (plain dicts: ``dcc.Graph`` draws them) and HTML tables.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

import dash
import pandas as pd
from dash import Input, Output, dcc, html

from core import db
from core.access import User
from dashboards.messages import DEFAULT_LANG, HTML_LANG, LANGS, t
from dashboards.state import View
from dashboards.stats_downloads import headers
from dashboards.stats_view import (
    Effectiveness,
    EffectRow,
    StatsView,
    load_effectiveness,
    load_stats,
)
from dashboards.viewer import current_user, optional_user
from geo.admin import get_area
from layers.catalog import warning_colours
from layers.measures import MEASURES
from layers.months import month_label, resolve_month, shown_months
from layers.statistics import CHARTS, Chart

PREFIX = "/stats/"
URL = "stats-url"
BODY = "stats-body"
EFFECT = "effect-body"
DOCUMENT = "stats-document"
#: Line colours: warning levels in the catalog's warning colours; the province in grey.
COLOURS = {
    **{
        f"warnings_{level}": colour
        for level, colour in warning_colours().items()
        if level != "none"
    },
    "province_income_median": "#888888",
    "province_income_growth": "#888888",
}


def stats_url(view: View, **extra: str) -> str:
    """The statistics page of ``view`` (area, measure, month, language)."""
    query = {"area": view.area, "layer": view.measure}
    if view.month:
        query["month"] = view.month
    if view.lang != DEFAULT_LANG:
        query["lang"] = view.lang
    return PREFIX + "?" + urlencode(query | extra)


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return None if math.isnan(float(value)) else float(value)
    return None  # missing, or a suppressed "<5"


def figure(
    title: str,
    unit: str,
    x: list[str],
    lines: dict[str, tuple[str, list[Any]]],
    *,
    bars: bool = False,
    target: float | None = None,
) -> dict[str, Any]:
    """A Plotly figure as a dict: one trace per line (label, values), months on the x axis."""
    traces = [
        {
            "type": "bar" if bars else "scatter",
            "mode": "lines+markers",
            "name": label,
            "x": x,
            "y": [_number(v) for v in values],
            "marker": {"color": COLOURS.get(key)} if key in COLOURS else {},
            "hovertemplate": "%{x}: %{y:,} " + unit + "<extra>" + label + "</extra>",
        }
        for key, (label, values) in lines.items()
    ]
    layout: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 15}},
        "xaxis": {"type": "category"},
        "yaxis": {"title": {"text": unit}, "rangemode": "tozero"},
        "barmode": "stack",
        "height": 270,
        "margin": {"l": 60, "r": 12, "t": 40, "b": 30},
        "legend": {"orientation": "h", "y": -0.2},
        "font": {"family": "Noto Sans CJK SC, sans-serif"},
    }
    if target is not None:
        layout["shapes"] = [
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": target,
                "y1": target,
                "line": {"color": "#c0392b", "dash": "dash"},
            }
        ]
    return {"data": traces, "layout": layout}


def chart_figure(chart: Chart, data: StatsView) -> dict[str, Any]:
    """The figure of one declared chart from the series table."""
    lang, series = data.view.lang, data.stats.series
    lines = {c: (t(f"stats.col.{c}", lang), list(series[c])) for c in chart.columns}
    return figure(
        t(f"stats.chart.{chart.key}", lang),
        t(f"stats.unit.{chart.unit}", lang),
        list(series["month"]),
        lines,
        bars=chart.bars,
        target=chart.target,
    )


def factors_figure(data: StatsView) -> dict[str, Any]:
    """Warnings by factor, stacked per month."""
    lang, factors = data.view.lang, data.stats.factors
    columns = [c for c in factors.columns if c != "month"]
    lines = {c: (t(f"factor.{c}", lang), list(factors[c])) for c in columns}
    x = list(factors["month"]) if "month" in factors else []
    unit = t("stats.unit.households", lang)
    return figure(t("stats.chart.factors", lang), unit, x, lines, bars=True)


def table(frame: Any, lang: str, table_id: str, labels: dict[str, str]) -> html.Table:
    """An HTML table of a frame, headers in the view's language (names render as text)."""
    head = html.Tr([html.Th(labels.get(str(c), str(c))) for c in frame.columns])
    rows = [
        html.Tr(
            [
                html.Td(
                    "—" if v is None or pd.isna(v) else f"{v:,}" if isinstance(v, int) else str(v)
                )
                for v in row
            ]
        )
        for row in frame.itertuples(index=False)
    ]
    return html.Table([html.Thead(head), html.Tbody(rows)], className="stats-table", id=table_id)


def download_links(data: StatsView, name: str) -> html.Span:
    """XLSX and CSV of one table (the same numbers as shown)."""
    view = data.view
    query = {"area": view.area, "layer": view.measure, "lang": view.lang}
    if view.month:
        query["month"] = view.month
    links = [
        html.A(
            fmt.upper(),
            href=f"/downloads/stats/{name}.{fmt}?{urlencode(query)}",
            download="",
            id=f"download-{name}-{fmt}",
            className="download",
        )
        for fmt in ("xlsx", "csv")
    ]
    return html.Span([t("stats.download", view.lang), " ", links[0], " · ", links[1]])


def column_labels(lang: str, columns: list[str]) -> dict[str, str]:
    """Column name → header in ``lang`` (warning factors by their names)."""
    return headers(lang, pd.DataFrame(columns=columns))


def _links(data: StatsView) -> list[Any]:
    view, lang = data.view, data.view.lang
    months = [
        html.Span(month_label(m), className="month current")
        if month_label(m) == month_label(data.stats.month)
        else dcc.Link(month_label(m), href=stats_url(view, month=month_label(m)), className="month")
        for m in data.months[-12:]
    ]
    measures = [
        html.Span(t(f"measure.{k}", lang), className="measure current")
        if k == view.measure
        else dcc.Link(t(f"measure.{k}", lang), href=stats_url(view, layer=k), className="measure")
        for k in MEASURES
    ]
    other = [LANGS[1] if lang == LANGS[0] else LANGS[0]][0]
    back = "/?" + view.search()
    return [
        html.Nav(
            className="stats-nav",
            children=[
                html.A(t("pages.back_to_map", lang), href=back, id="back-to-map"),
                dcc.Link(
                    t(f"lang.{other}", lang),
                    href=stats_url(View(view.area, view.measure, lang=other, month=view.month)),
                    id=f"lang-{other}",
                ),
                *[
                    dcc.Link(a.name, href=stats_url(view, area=a.code), className="crumb")
                    for a in data.trail[:-1]
                ],
            ],
        ),
        html.Div(className="month-picker", children=[t("month.label", lang), " ", *months]),
        html.Div(className="measures", children=[t("stats.ranking.measure", lang), *measures]),
    ]


def _effect_rows(rows: list[EffectRow], lang: str) -> html.Table:
    head = ["policy", "n_treated", "n_control", "effect", "interval", "fell_back"]
    body = []
    for row in rows:
        name = row.name_zh if lang == "zh" else row.name_en
        if row.effect is None:
            cells = [
                name,
                str(row.n_treated),
                str(row.n_control),
                t("effect.not_enough", lang),
                "—",
                "—",
            ]
        else:
            cells = [
                name,
                str(row.n_treated),
                str(row.n_control),
                f"{row.effect:+.1f}",
                f"[{row.low:+.1f}, {row.high:+.1f}]",
                row.fell_back_text,
            ]
        body.append(html.Tr([html.Td(c) for c in cells]))
    return html.Table(
        [
            html.Thead(html.Tr([html.Th(t(f"effect.col.{h}", lang)) for h in head])),
            html.Tbody(body),
        ],
        className="stats-table",
        id="effect-table",
    )


def body(data: StatsView) -> list[Any]:
    """The page below the header: charts, the ranking and the effectiveness table."""
    lang, stats = data.view.lang, data.stats
    header = [
        html.H1(t("stats.title", lang, area=stats.area.name), id="stats-title"),
        html.P(t("app.synthetic", lang), className="synthetic"),
        html.P(t("stats.months", lang, n=len(stats.series), month=month_label(stats.month))),
        *_links(data),
    ]
    if not len(stats.series):
        return [*header, html.P(t("stats.no_data", lang), id="stats-empty")]
    graphs = [
        dcc.Graph(figure=chart_figure(c, data), id=f"chart-{c.key}", config={"displaylogo": False})
        for c in CHARTS
    ]
    graphs.append(
        dcc.Graph(figure=factors_figure(data), id="chart-factors", config={"displaylogo": False})
    )
    measure = t(f"measure.{data.view.measure}", lang)
    ranked = stats.ranking.assign(rank=range(1, len(stats.ranking) + 1))
    ranked = ranked[["rank", "area_name", "code", "value"]]
    labels = column_labels(lang, list(stats.series.columns)) | {
        "rank": t("stats.ranking.rank", lang)
    }
    return [
        *header,
        html.Div(className="charts", children=graphs),
        html.H2(t("stats.ranking", lang, measure=measure, month=month_label(stats.month))),
        download_links(data, "ranking"),
        table(
            ranked,
            lang,
            "ranking-table",
            labels | column_labels(lang, ["area_name", "code", "value"]),
        ),
        html.H2(t("stats.table.series", lang)),
        download_links(data, "series"),
        table(stats.series, lang, "series-table", labels),
        html.H2(t("stats.table.factors", lang)),
        download_links(data, "factors"),
        table(
            stats.factors, lang, "factors-table", column_labels(lang, list(stats.factors.columns))
        ),
        html.H2(t("effect.title", lang)),
        html.P(t("effect.note", lang, n=data.min_n), className="note"),
        download_links(data, "effect"),
    ]


def _share(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def effect_section(effect: Effectiveness | None, lang: str) -> list[Any]:
    """The per-policy effects and the warnings' outcomes (or "not enough data")."""
    if effect is None:
        return [html.P(t("effect.not_enough", lang), id="effect-empty")]
    outcomes = effect.outcomes
    rates = t(
        "effect.rates",
        lang,
        resolved=_share(outcomes.resolution_rate),
        recurred=_share(outcomes.recurrence_rate),
        fell=_share(effect.fell_back),
        n=outcomes.opened,
    )
    window = f"{month_label(effect.first)} → {month_label(effect.last)}"
    return [html.P(window), html.P(rates, id="effect-rates"), _effect_rows(effect.rows, lang)]


def layout() -> Any:
    """The page shell; the URL callback fills it."""
    if optional_user() is None:
        return html.Div(id="login-required")
    return html.Main(
        className="stats",
        children=[
            dcc.Location(id=URL, refresh=False),
            dcc.Store(id=DOCUMENT),
            html.Div(id=BODY),
            html.Section(id=EFFECT),
        ],
    )


def mount(server: Any, dash_class: type[dash.Dash], **options: Any) -> dash.Dash:
    """Mount the statistics page on ``server`` (a Dash app of its own under :data:`PREFIX`)."""
    app = dash_class(__name__, server=server, url_base_pathname=PREFIX, **options)
    app.layout = layout

    @app.callback(Output(BODY, "children"), Output(DOCUMENT, "data"), Input(URL, "search"))
    def show(search: str | None) -> tuple[list[Any], dict[str, str]]:
        user: User = current_user()
        view = View.from_search(search, user.jurisdiction)
        with db.scoped(user.scope) as conn:
            data = load_stats(conn, user, view)
        title = t("stats.title", view.lang, area=data.stats.area.name)
        return body(data), {"lang": HTML_LANG[view.lang], "title": title}

    @app.callback(Output(EFFECT, "children"), Input(URL, "search"))
    def show_effects(search: str | None) -> list[Any]:
        user: User = current_user()
        view = View.from_search(search, user.jurisdiction)
        with db.scoped(user.scope) as conn:
            user.scope.require(view.area)
            get_area(conn, user.scope, view.area)
            months = shown_months(conn)
            effect = load_effectiveness(conn, view.area, months, resolve_month(months, view.month))
        return effect_section(effect, view.lang)

    return app
