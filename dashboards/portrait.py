"""The household portrait as Dash components, and its door QR code.

Labels come from the message catalog; data stored in both languages (policy names, warning
reasons) is shown in the viewer's language; every value renders as text.
"""

from __future__ import annotations

from typing import Any

import segno
from dash import dcc, html

from dashboards.messages import t, value_label
from layers.catalog import cause_label, warning_colours
from layers.portrait import Portrait, head_of_household

#: The low-income standard drawn on the income chart (yuan per person and month).
INCOME_STANDARD = 1145


def token_url(public_url: str, token: str) -> str:
    """The address a door QR code opens."""
    return f"{public_url.rstrip('/')}/h/{token}"


def qr_data_uri(url: str) -> str:
    """An SVG QR code as a data: URI (nothing is fetched from anywhere)."""
    return str(segno.make(url, error="m").svg_data_uri(scale=3, border=2))


def localised(row: dict[str, Any], field: str, lang: str) -> Any:
    """``field_en`` in English when present, else ``field_zh`` (data stored in both languages)."""
    english = row.get(f"{field}_en")
    return english if lang == "en" and english else row[f"{field}_zh"]


def yes_no(value: Any, lang: str) -> str | None:
    """是/否 (Yes/No) for a flag; None when unknown."""
    return None if value is None else t("common.yes" if value else "common.no", lang)


def _fields(pairs: list[tuple[str, Any]], lang: str) -> html.Dl:
    items: list[Any] = []
    for key, value in pairs:
        shown = "—" if value is None else str(value)
        items += [html.Dt(t(f"portrait.field.{key}", lang)), html.Dd(shown)]
    return html.Dl(items)


def _benefit(row: dict[str, Any], lang: str) -> html.Li:
    due = row["amount_due"]
    amount = t("benefit.amount_due", lang, amount=f"{due:,.2f}") if due is not None else ""
    line = t(
        "benefit.line",
        lang,
        name=localised(row, "name", lang),
        code=row["policy_code"],
        state=t(f"benefit.state.{row['state']}", lang),
    )
    return html.Li(line + amount, className=f"benefit benefit-{row['state']}")


def _income_chart(portrait: Portrait, lang: str) -> Any:
    if not portrait.income_history:
        return html.P(t("portrait.no_income", lang))
    line = t("portrait.income_line", lang, amount=f"{INCOME_STANDARD:,}")
    figure = {
        "data": [
            {
                "x": [m.strftime("%Y-%m") for m, _ in portrait.income_history],
                "y": [v for _, v in portrait.income_history],
                "type": "scatter",
                "mode": "lines+markers",
                "line": {"color": "#1f3a5f"},
            }
        ],
        "layout": {
            "xaxis": {"type": "category", "automargin": True},
            "height": 190,
            # The unit is the chart's caption (above it), not an axis title over the ticks.
            "margin": {"l": 10, "r": 10, "t": 24, "b": 10},
            "yaxis": {"automargin": True, "rangemode": "tozero"},
            "title": {
                "text": t("portrait.income_unit", lang),
                "font": {"size": 11},
                "x": 0,
                "xanchor": "left",
                "y": 0.98,
            },
            "annotations": [
                {
                    "xref": "paper",
                    "x": 1,
                    "xanchor": "right",
                    "y": INCOME_STANDARD,
                    "yanchor": "bottom",
                    "text": line,
                    "showarrow": False,
                    "font": {"size": 10, "color": warning_colours()["red"]},
                }
            ],
            "shapes": [
                {
                    "type": "line",
                    "xref": "paper",
                    "x0": 0,
                    "x1": 1,
                    "y0": INCOME_STANDARD,
                    "y1": INCOME_STANDARD,
                    "line": {"dash": "dot", "color": warning_colours()["red"]},
                }
            ],
        },
    }
    return dcc.Graph(
        figure=figure, config={"displayModeBar": False, "staticPlot": True}, id="income-chart"
    )


def _health(member: dict[str, Any], lang: str) -> str:
    parts = [
        t("portrait.member.chronic", lang) if member["chronic_illness"] else "",
        t("portrait.member.serious", lang) if member["serious_illness"] else "",
        t(
            "portrait.member.disability",
            lang,
            type=value_label("disability_type", member["disability_type"], lang),
            grade=member["disability_grade"],
        )
        if member["disability_grade"]
        else "",
        value_label("school_stage", member["school_stage"], lang) if member["school_stage"] else "",
    ]
    return " ".join(filter(None, parts)) or "—"


def _members(portrait: Portrait, lang: str) -> html.Table:
    headers = ("name", "relation", "sex", "age", "id", "health")
    return html.Table(
        className="members",
        children=[
            html.Tr([html.Th(t(f"portrait.member.{h}", lang)) for h in headers]),
            *[
                html.Tr(
                    [
                        html.Td(m["name"]),
                        html.Td(value_label("relation", m["relation"], lang)),
                        html.Td(value_label("sex", m["sex"], lang)),
                        html.Td(m["age"]),
                        html.Td(m["id_masked"]),
                        html.Td(_health(m, lang)),
                    ]
                )
                for m in portrait.members
            ],
        ],
    )


def _warning(row: dict[str, Any], lang: str) -> html.Li:
    steps = (
        ("raised", row["raised_at"]),
        ("acknowledged", row["acknowledged_at"]),
        ("verified", row["verified_at"]),
        ("closed", row["closed_at"]),
    )
    headline = t(
        "warning.headline",
        lang,
        level=t(f"warning.level.{row['level']}", lang),
        score=f"{row['score']:.0f}",
        status=t(f"warning.status.{row['status']}", lang),
    )
    return html.Li(
        className=f"warning warning-{row['level']}",
        children=[
            html.Strong(headline),
            html.Ul([html.Li(reason) for reason in localised(row, "reasons", lang)]),
            html.Small(
                " → ".join(
                    f"{t(f'warning.step.{s}', lang)} {at:%Y-%m-%d %H:%M}" for s, at in steps if at
                )
            ),
        ],
    )


def _visits(portrait: Portrait, lang: str) -> html.Ul:
    items = [
        html.Li(
            t(
                "portrait.visit",
                lang,
                time=f"{v['visit_time']:%Y-%m-%d %H:%M}",
                official=v["official_name"],
                content=v["content"] or "",
            )
        )
        for v in portrait.visits
    ]
    return html.Ul(className="visits", children=items or [html.Li(t("portrait.no_visits", lang))])


def _basics(portrait: Portrait, lang: str) -> list[Any]:
    b = portrait.basics
    return [
        html.H3(t("portrait.section.basics", lang)),
        _fields(
            [
                ("status", value_label("status", b["status"], lang)),
                ("size", b["size"]),
                ("address", b["address"]),
                ("phone", b["phone_masked"]),
                ("precision", t(f"portrait.precision.{b['geo_precision']}", lang)),
                ("mountain", yes_no(bool(b["mountain"]), lang)),
                ("poverty_cause", cause_label(b.get("poverty_cause"), lang)),
                ("poverty_cause_secondary", cause_label(b.get("poverty_cause_secondary"), lang)),
            ],
            lang,
        ),
    ]


def _living(portrait: Portrait, lang: str) -> list[Any]:
    b = portrait.basics
    water = None
    if b["water_safe"] is not None:
        water = t("portrait.water.safe" if b["water_safe"] else "portrait.water.unsafe", lang)
    return [
        html.H3(t("portrait.section.income", lang)),
        _fields(
            [("income", b["income_per_capita"]), ("income_change", b["income_change_pct"])], lang
        ),
        _income_chart(portrait, lang),
        html.H3(t("portrait.section.housing", lang)),
        _fields(
            [
                ("housing_grade", b["housing_grade"]),
                ("water_safe", water),
                ("water_source", value_label("water_source", b["water_source"], lang)),
                ("hazard", None if b["hazard"] is None else f"{b['hazard']:.2f}"),
                ("in_disaster", yes_no(bool(b["in_disaster"]), lang)),
            ],
            lang,
        ),
    ]


def _door(portrait: Portrait, public_url: str, lang: str) -> list[Any]:
    if not portrait.token:
        return []
    url = token_url(public_url, portrait.token)
    query = "?lang=en" if lang == "en" else ""
    return [
        html.H3(t("portrait.section.door", lang)),
        html.Img(src=qr_data_uri(url), alt=t("portrait.door_alt", lang), id="door-qr"),
        html.Div(
            dcc.Link(
                t("portrait.door_open", lang),
                href=f"/h/{portrait.token}{query}",
                refresh=True,
                id="door-link",
            )
        ),
    ]


def _heading(portrait: Portrait, lang: str) -> list[Any]:
    """The head of household's name, the household number beneath it.

    The portrait is only read for roles that may open it, and those see the members' names.
    """
    head = head_of_household(portrait) or t("portrait.head_unknown", lang)
    return [
        html.H2(head, id="portrait-title"),
        html.P(
            t("portrait.title", lang, id=portrait.household_id),
            className="portrait-number",
            id="portrait-number",
        ),
    ]


def portrait_panel(portrait: Portrait, public_url: str, lang: str = "zh") -> list[Any]:
    """The side panel for one household, grouped as the portrait's 61 fields are.

    Basics, members, income, housing and water, benefit list, warnings with their lifecycle,
    paired official and visits, and the door code. Every value is rendered as text.
    """
    b = portrait.basics
    return [
        *_heading(portrait, lang),
        html.P(
            t(
                "portrait.note",
                lang,
                county=b["county"],
                town=b["town"],
                village=b["village"],
                month=f"{portrait.month:%Y-%m}",
            ),
            className="note",
        ),
        *_basics(portrait, lang),
        html.H3(t("portrait.section.members", lang)),
        _members(portrait, lang),
        *_living(portrait, lang),
        html.H3(t("portrait.section.benefits", lang)),
        html.Ul(
            className="benefits",
            children=[_benefit(x, lang) for x in portrait.benefits]
            or [html.Li(t("portrait.none", lang))],
        ),
        html.H3(t("portrait.section.warnings", lang)),
        html.Ul(
            className="warnings",
            id="portrait-warnings",
            children=[_warning(w, lang) for w in portrait.warnings]
            or [html.Li(t("portrait.no_warnings", lang))],
        ),
        html.H3(t("portrait.section.official", lang)),
        _fields([("official", b["official_id"]), ("last_visit", b["last_visit"])], lang),
        _visits(portrait, lang),
        *_door(portrait, public_url, lang),
    ]
