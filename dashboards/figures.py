"""The panel's key figures of an area and the heatmap's own legend, as Dash components."""

from __future__ import annotations

from typing import Any

from dash import html

from dashboards.messages import t
from layers.area_figures import AreaFigures
from layers.heatmap import HEAT_STOPS


def _shown(value: Any) -> str:
    """A figure as text: thousands separated, "<5" as it is, "—" when withheld."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.0f} %"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _figure(key: str, value: Any, lang: str, detail: str | None = None) -> html.Div:
    children: list[Any] = [
        html.Span(_shown(value), className="value", id=f"figure-{key}"),
        html.Span(t(f"figures.{key}", lang), className="label"),
    ]
    if detail:
        children.append(html.Span(detail, className="detail"))
    return html.Div(className="figure", children=children)


def key_figures(figures: AreaFigures | None, lang: str) -> list[Any]:
    """Households, people, open warnings by level, benefit gaps and visit coverage."""
    if figures is None:
        return []
    if figures.month is None:
        return [html.P(t("figures.no_data", lang), className="hint", id="figures-none")]
    values = figures.values
    levels = {level: values.get(level) for level in ("red", "orange", "yellow")}
    by_level = (
        None
        if None in levels.values()
        else t("figures.warnings_by_level", lang, **{k: _shown(v) for k, v in levels.items()})
    )
    content: list[Any] = [
        html.H3(t("figures.title", lang)),
        html.Div(
            className="figures",
            id="key-figures",
            children=[
                _figure("households", values["households"], lang),
                _figure("people", values["people"], lang),
                _figure("open_warnings", values["open_warnings"], lang, by_level),
                _figure("benefit_gaps", values["benefit_gaps"], lang),
                _figure("visit_coverage", values["visit_coverage"], lang),
            ],
        ),
        html.P(t("figures.month", lang, month=f"{figures.month:%Y-%m}"), className="figures-month"),
    ]
    if figures.suppressed:
        content.append(html.P(t("figures.suppressed_note", lang), className="figures-note"))
    return content


def heat_legend(lang: str) -> html.Div:
    """The heatmap's colour ramp (the tiles' own stops), few to many weighted warnings."""
    stops = [f"rgba({r},{g},{b},{a / 255:.2f})" for r, g, b, a in HEAT_STOPS]
    return html.Div(
        className="legend heat-legend",
        id="heat-legend",
        children=[
            html.H3(t("heat.legend", lang)),
            html.Div(
                className="ramp",
                style={"background": f"linear-gradient(to right, {', '.join(stops)})"},
            ),
            html.Div(
                className="ends",
                children=[html.Span(t("heat.low", lang)), html.Span(t("heat.high", lang))],
            ),
            html.P(t("heat.clip_note", lang), className="hint"),
        ],
    )
