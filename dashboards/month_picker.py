"""The month picker of the map's panel, and links to the area's other pages.

Statistics, wall and supervision: every link keeps the view (the URL is the state).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from dash import dcc, html

from dashboards.messages import DEFAULT_LANG, t
from dashboards.viewdata import ViewData
from layers.months import month_label

#: Months offered at most (the newest).
SHOWN = 12


def month_picker(data: ViewData) -> html.Div:
    """One link per month the view can show; the month shown is plain text."""
    view, lang = data.view, data.view.lang
    current = month_label(data.month)
    latest = month_label(data.months[-1]) if data.months else None
    items: list[Any] = [html.Span(t("month.label", lang), className="month-label")]
    for month in data.months[-SHOWN:]:
        label = month_label(month)
        if label == current:
            items.append(html.Span(label, className="month current", id="month-current"))
        else:
            href = view.with_month(None if label == latest else label).url()
            items.append(
                dcc.Link(label, href=href, className="month", id={"type": "month", "index": label})
            )
    return html.Div(className="month-picker", id="month-picker", role="group", children=items)


def page_query(data: ViewData, **extra: str) -> str:
    """The query string of the area's other pages: area, month, language (and ``extra``)."""
    query = {"area": data.area.code}
    if data.view.month:
        query["month"] = data.view.month
    if data.view.lang != DEFAULT_LANG:
        query["lang"] = data.view.lang
    return urlencode(query | extra)


def page_links(data: ViewData) -> html.Div:
    """Links to the area's statistics, wall screen and (for those who may) supervision."""
    lang, user = data.view.lang, data.viewer
    links: list[Any] = [
        html.A(t("pages.statistics", lang), href="/stats/?" + page_query(data), id="stats-link")
    ]
    if user.scope.covers(data.area.code):
        links.append(html.A(t("pages.wall", lang), href=f"/wall/{data.area.code}", id="wall-link"))
    if user.permissions.supervision_view:
        links.append(
            html.A(
                t("pages.supervision", lang),
                href="/supervision/?" + page_query(data),
                id="supervision-link",
            )
        )
    return html.Div(className="page-links", children=links)
