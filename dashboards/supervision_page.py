"""The supervision page (纪委监察) ``/supervision/?area=…&month=…&official=…``.

A Dash app of its own: findings by kind over the months, a map of this month's findings per
village, the paired officials (named only for roles entitled to supervise the area), one
official's evidence, and a form with which an auditor records an inspection (scoped, audited
in the same transaction). Village officials, planners and admins get 403.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any
from urllib.parse import urlencode

import dash
import dash_leaflet as dl
import pandas as pd
from dash import Input, Output, State, dcc, html

from core import audit, db
from core.errors import BEIJING, NotPermitted, OneMapError
from dashboards.errors import error_message
from dashboards.guard import expect_text
from dashboards.messages import DEFAULT_LANG, t
from dashboards.stats_page import figure
from dashboards.supervision_view import (
    SupervisionData,
    SupervisionQuery,
    load_supervision,
    names_visible,
)
from dashboards.viewer import current_user, optional_user, request_id
from layers.catalog import warning_colours
from layers.months import month_label, resolve_month, shown_months
from layers.supervision import FINDING_KINDS, OUTCOMES, Inspection, record_inspection

PREFIX = "/supervision/"
ROUTE = "/supervision/#inspection"


def page_url(query: SupervisionQuery, **changes: str | None) -> str:
    """The page of ``query`` with ``changes`` (None drops a parameter)."""
    values = {"area": query.area, "month": query.month, "official": query.official}
    values["lang"] = query.lang if query.lang != DEFAULT_LANG else None
    values |= changes
    return PREFIX + "?" + urlencode({k: v for k, v in values.items() if v})


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, dt.datetime):  # instants in Beijing time, as the XLSX has them
        return f"{value.astimezone(BEIJING) if value.tzinfo else value:%Y-%m-%d %H:%M}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def table(frame: pd.DataFrame, lang: str, table_id: str, link: Any = None) -> html.Table:
    """A table with headers in ``lang``; ``link(row)`` may turn the first cell into a link."""
    head = html.Tr([html.Th(t(f"sup.col.{c}", lang)) for c in frame.columns])
    rows = []
    for row in frame.to_dict("records"):
        cells = [html.Td(_text(v)) for v in row.values()]
        if link is not None:
            cells[0] = html.Td(link(row))
        rows.append(html.Tr(cells))
    return html.Table([html.Thead(head), html.Tbody(rows)], className="stats-table", id=table_id)


def findings_map(data: SupervisionData) -> dl.Map:
    """One circle per village, sized by its findings this month (counts suppressed below 5)."""
    markers = []
    for row in data.by_village.to_dict("records"):
        count = row["findings"]
        size = 4 if isinstance(count, str) else 3 + 1.5 * math.sqrt(float(count))
        markers.append(
            dl.CircleMarker(
                center=[row["lat"], row["lon"]],
                radius=min(size, 18),
                color=warning_colours()["red"],
                fillOpacity=0.5,
                children=dl.Tooltip(f"{row['area_name']}: {count}"),
            )
        )
    return dl.Map(
        id="sup-map",
        className="sup-map",
        bounds=data.trail[-1].bounds,
        children=markers,
        attributionControl=False,
        style={"height": "380px"},
    )


def inspection_form(lang: str) -> html.Div:
    """The form an auditor records an inspection with."""
    return html.Div(
        className="sup-form",
        children=[
            html.H3(t("sup.form.title", lang)),
            html.Label([t("sup.form.official", lang), dcc.Input(id="sup-official", type="text")]),
            html.Label([t("sup.form.household", lang), dcc.Input(id="sup-household", type="text")]),
            html.Label(
                [
                    t("sup.form.date", lang),
                    dcc.Input(id="sup-date", type="text", value=f"{dt.date.today():%Y-%m-%d}"),
                ]
            ),
            html.Label(
                [
                    t("sup.form.outcome", lang),
                    dcc.Dropdown(
                        id="sup-outcome",
                        options=[
                            {"label": t(f"sup.outcome.{o}", lang), "value": o} for o in OUTCOMES
                        ],
                        value=OUTCOMES[0],
                        clearable=False,
                    ),
                ]
            ),
            html.Label(
                [t("sup.form.note", lang), dcc.Input(id="sup-note", type="text", maxLength=500)]
            ),
            html.Button(t("sup.form.submit", lang), id="sup-submit", n_clicks=0),
            html.P(id="sup-form-message", role="status"),
        ],
    )


def _downloads(data: SupervisionData) -> html.P:
    query = {"area": data.query.area, "month": month_label(data.month), "lang": data.query.lang}
    links = [
        html.A(
            t(f"sup.{name}", data.query.lang) + " XLSX",
            download="",
            className="download",
            href=f"/downloads/supervision/{name}.xlsx?{urlencode(query)}",
            id=f"download-sup-{name}",
        )
        for name in ("officials", "inspections")
    ]
    return html.P([links[0], " · ", links[1]])


def body(data: SupervisionData) -> list[Any]:
    """The page's content for one area and month."""
    query, lang = data.query, data.query.lang
    kinds = {
        k: (t(f"sup.kind.{k}", lang), list(data.trend[k])) for k in FINDING_KINDS if k in data.trend
    }
    x = list(data.trend["month"]) if "month" in data.trend else []
    trend = figure(t("sup.trend", lang), "", x, kinds, bars=True)
    months = [
        dcc.Link(month_label(m), href=page_url(query, month=month_label(m)), className="month")
        for m in data.months[-12:]
    ]
    # A month without officials' rows (none derived yet) has no columns at all.
    visits = (
        int(pd.to_numeric(data.officials["visits"], errors="coerce").fillna(0).sum())
        if "visits" in data.officials
        else 0
    )
    content: list[Any] = [
        html.A(t("pages.back_to_map", lang), href="/?" + urlencode({"area": query.area})),
        html.H1(t("sup.title", lang, area=data.trail[-1].name), id="sup-title"),
        html.P(t("app.synthetic", lang), className="synthetic"),
        html.P(t("sup.note", lang)),
        html.Div(className="month-picker", children=[t("month.label", lang), " ", *months]),
        html.P(t("sup.totals", lang, visits=f"{visits:,}", inspections=len(data.inspections))),
    ]
    if not data.names:
        content.append(html.P(t("sup.no_names", lang), className="note", id="sup-no-names"))
    content += [
        dcc.Graph(figure=trend, id="sup-trend"),
        html.H2(t("sup.map", lang)),
        findings_map(data),
        html.H2(t("sup.officials", lang)),
        _downloads(data),
    ]
    link = None
    if data.names:

        def link(row: dict[str, Any]) -> Any:
            return dcc.Link(row["official_id"], href=page_url(query, official=row["official_id"]))

    content.append(table(data.officials.head(200), lang, "sup-officials", link))
    if data.evidence is not None:
        evidence = data.evidence.assign(
            kind=[t(f"sup.kind.{k}", lang) for k in data.evidence["kind"]]
        )
        content += [
            html.H2(t("sup.record", lang, name=query.official)),
            table(evidence, lang, "sup-evidence"),
        ]
    if data.names:
        content += [
            html.H2(t("sup.inspections", lang)),
            inspection_form(lang),
            table(data.inspections, lang, "sup-inspections"),
        ]
    return content


def layout() -> Any:
    """The page shell; the URL callback fills it."""
    if optional_user() is None:
        return html.Div(id="login-required")
    return html.Main(
        className="stats supervision",
        children=[dcc.Location(id="sup-url", refresh=False), html.Div(id="sup-body")],
    )


def save(search: str | None, entry: Inspection) -> str:
    """Record an inspection as the logged-in auditor (scoped; audited in the transaction)."""
    user = current_user()
    query = SupervisionQuery.parse(search, user.jurisdiction)
    if not names_visible(user, query.area):
        raise NotPermitted(f"{user.role.value} may not record inspections in {query.area}")
    with db.scoped(user.scope) as conn:
        months = shown_months(conn)
        month = resolve_month(months, query.month)
        if month is None:
            return t("stats.no_data", query.lang)
        number = record_inspection(conn, user.scope, user.username, entry, month)
        audit.record(
            conn,
            user=user,
            route=ROUTE,
            request_id=request_id(),
            household_ids=[entry.household_id] if entry.household_id else [],
            detail={"area": query.area, "inspection": number, "official": entry.official_id},
        )
    return t("sup.form.saved", query.lang, id=number)


def mount(server: Any, dash_class: type[dash.Dash], **options: Any) -> dash.Dash:
    """Mount the supervision page on ``server`` under :data:`PREFIX`."""
    # The inspection form is drawn by the URL callback, so its ids are not in the first layout.
    options = options | {"suppress_callback_exceptions": True}
    app = dash_class(__name__, server=server, url_base_pathname=PREFIX, **options)
    app.layout = layout

    @app.callback(Output("sup-body", "children"), Input("sup-url", "search"))
    def show(search: str | None) -> list[Any]:
        user = current_user()
        query = SupervisionQuery.parse(search, user.jurisdiction)
        with db.scoped(user.scope) as conn:
            data = load_supervision(conn, user, query)
        return body(data)

    @app.callback(
        Output("sup-form-message", "children"),
        Input("sup-submit", "n_clicks"),
        State("sup-official", "value"),
        State("sup-household", "value"),
        State("sup-date", "value"),
        State("sup-outcome", "value"),
        State("sup-note", "value"),
        State("sup-url", "search"),
        prevent_initial_call=True,
    )
    def submit(  # noqa: PLR0917 — Dash passes callback arguments by position
        _n: int,
        official: str | None,
        household: str | None,
        date: str | None,
        outcome: str | None,
        note: str | None,
        search: str | None,
    ) -> str:
        lang = SupervisionQuery.parse(search, "33").lang
        try:
            official, household, date, outcome, note = (
                expect_text(v) for v in (official, household, date, outcome, note)
            )
            entry = Inspection(
                dt.date.fromisoformat(date or ""),
                outcome or "",
                (note or "").strip(),
                (official or "").strip() or None,
                (household or "").strip() or None,
            )
            return save(search, entry)
        except (ValueError, OneMapError) as error:
            wrapped = error if isinstance(error, OneMapError) else OneMapError(str(error))
            return error_message(wrapped, lang)

    return app
