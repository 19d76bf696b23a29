"""The chrome around the map as Dash components: top bar, breadcrumb, language switch, side panel.

Every text comes from the message catalog in the view's language; names are data and render
as text. Links are built from :class:`~dashboards.state.View`, so they keep the whole view.
"""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from core.access import PortraitAccess, User
from dashboards.badge import inbox_badge
from dashboards.downloads import download_menu
from dashboards.figures import heat_legend, key_figures
from dashboards.messages import LANGS, t, value_label
from dashboards.month_picker import month_picker, page_links
from dashboards.portrait import portrait_panel
from dashboards.routes import heat_download_url
from dashboards.state import View
from dashboards.viewdata import ViewData
from geo.admin import Area
from layers.choropleth import Choropleth, LegendEntry
from layers.households import HOUSEHOLD_COLOURS, MAX_FEATURES
from layers.measures import MEASURES


def aria_label(text: str) -> dict[str, Any]:
    """The ``aria-label`` keyword of a Dash html component (a name Python cannot spell)."""
    return {"aria-label": text}


def user_menu(user: User, csrf: str, lang: str) -> html.Div:
    """Who is logged in, the audit page (for those who may read it) and the logout button."""
    name = t("user.signed_in", lang, name=user.display_name, role=t(f"role.{user.role}", lang))
    items: list[Any] = [html.Span(name, className="user-name", id="user-name")]
    if user.permissions.audit_view:
        items.append(html.A(t("user.audit", lang), href="/audit", id="audit-link"))
    items.append(
        html.Form(
            action="/logout",
            method="POST",
            className="logout",
            children=[
                dcc.Input(type="hidden", name="csrf_token", value=csrf, id="logout-csrf"),
                html.Button(t("user.logout", lang), type="submit", id="logout"),
            ],
        )
    )
    return html.Div(className="user-menu", children=items)


def topbar(lang: str, user: User | None = None, csrf: str = "") -> list[Any]:
    """The title, the synthetic-data notice, the network notice and the user's menu.

    On a phone the bar is one line: the short title, a short synthetic-data badge and a menu
    button that opens the user's menu (``onemap.js`` toggles it).
    """
    items: list[Any] = [
        html.H1(
            [
                html.Span(t("app.title", lang), className="title-full"),
                html.Span(t("app.short_title", lang), className="title-short"),
            ]
        ),
        html.Span(t("app.synthetic", lang), className="synthetic", id="synthetic-notice"),
        html.Span(t("app.synthetic_short", lang), className="synthetic-short"),
        html.Div(
            className="network-notice",
            id="network-notice",
            role="status",
            children=[
                html.Span(t("network.down", lang), className="network-down"),
                html.Span(t("network.failed", lang), className="network-failed"),
            ],
        ),
    ]
    if user is not None:
        items += [
            html.Button(
                "☰",
                className="menu-toggle",
                type="button",
                id="menu-toggle",
                **aria_label(t("menu.label", lang)),
            ),
            user_menu(user, csrf, lang),
        ]
        badge = inbox_badge(user, lang)
        if badge is not None:
            items.append(badge)
    return items


def lang_switch(view: View) -> html.Div:
    """中文 | EN: the current language as text, the other as a link to the same view."""
    items: list[Any] = []
    for lang in LANGS:
        if items:
            items.append(html.Span("|", className="sep"))
        label = t(f"lang.{lang}", view.lang)
        if lang == view.lang:
            items.append(html.Span(label, className="lang current", id=f"lang-{lang}"))
        else:
            href = view.with_lang(lang).url()
            items.append(dcc.Link(label, href=href, className="lang", id=f"lang-{lang}"))
    return html.Div(
        className="lang-switch",
        role="group",
        **aria_label(t("lang.label", view.lang)),
        children=items,
    )


def breadcrumb(trail: list[Area], view: View) -> list[Any]:
    """Links back to every ancestor; the current area as plain text. Names stay Chinese."""
    items: list[Any] = []
    for position, area in enumerate(trail):
        if position:
            items.append(html.Span("›", className="sep"))
        if position == len(trail) - 1:
            items.append(html.Span(area.name, className="current", id="breadcrumb-current"))
        else:
            href = view.to_area(area.code).url()
            items.append(dcc.Link(area.name, href=href, title=area.code))
    return items


def measure_links(view: View) -> html.Div:
    """The heatmap switch and one link per measure (the URL is the state)."""
    toggle = dcc.Link(
        t("heat.hide" if view.heat else "heat.show", view.lang),
        href=view.with_heat(not view.heat).url(),
        id="heat-toggle",
        className="measure current" if view.heat else "measure",
    )
    links = [
        dcc.Link(
            t(f"measure.{key}", view.lang),
            href=view.with_measure(key).url(),
            className="measure current" if key == view.measure else "measure",
            id={"type": "measure-link", "index": key},
        )
        for key in MEASURES
    ]
    return html.Div(className="measures", children=[toggle, *links])


def _legend_range(entry: LegendEntry, decimals: int) -> str:
    if entry.label is not None:
        return entry.label
    return f"{entry.low:,.{decimals}f} – {entry.high:,.{decimals}f}"


def legend(choropleth: Choropleth, lang: str, *, has_children: bool = True) -> html.Div:
    """The legend of the current measure, with its unit and the count per class."""
    measure = choropleth.measure
    rows = [
        html.Div(
            className="legend-row",
            children=[
                html.Span(className="swatch", style={"background": entry.colour}),
                html.Span(_legend_range(entry, measure.decimals)),
                html.Span(f"({entry.count})", className="legend-count"),
            ],
        )
        for entry in choropleth.legend
    ] or [
        html.Div(
            t("legend.empty" if has_children else "legend.no_children", lang),
            className="legend-empty",
        )
    ]
    month = choropleth.month.strftime("%Y-%m") if choropleth.month else "—"
    title = t(
        "legend.title",
        lang,
        name=t(f"measure.{measure.key}", lang),
        unit=t(f"measure.{measure.key}.unit", lang),
    )
    return html.Div(
        className="legend",
        id="legend",
        children=[
            html.H3(title),
            html.Div(t("legend.month", lang, month=month), className="legend-month"),
            *rows,
        ],
    )


def household_legend(lang: str) -> html.Div:
    """The colours of household points and clusters by warning level."""
    return html.Div(
        className="legend household-legend",
        children=[
            html.H3(t("household_level.legend", lang)),
            *[
                html.Div(
                    className="legend-row",
                    children=[
                        html.Span(className="dot", style={"background": colour}),
                        html.Span(t(f"warning.level.{level}", lang)),
                    ],
                )
                for level, colour in HOUSEHOLD_COLOURS.items()
            ],
        ],
    )


def _points_hint(data: ViewData) -> str:
    permissions = data.viewer.permissions
    if permissions.identified_points:
        return "panel.households_clustered" if data.clustered else "panel.households_points"
    if permissions.portraits is PortraitAccess.WARNED:
        return "panel.households_warned"
    return "panel.households_deidentified"


def households_note(data: ViewData) -> list[Any]:
    """What the map shows of the households here, and what to do when it cannot show them all."""
    lang = data.view.lang
    if not data.shows_households:
        return [html.P(t("panel.households_below", lang), className="hint")]
    notes: list[Any] = []
    if data.truncated:
        total = data.shown_households
        notes.append(
            html.P(
                t("panel.households_truncated", lang, total=total, shown=MAX_FEATURES),
                className="note warning-note",
                id="households-truncated",
            )
        )
    notes.append(html.P(t(_points_hint(data), lang), className="hint", id="households-note"))
    return [*notes, household_legend(lang)]


def area_section(data: ViewData) -> list[Any]:
    """The current area: its facts, the measures, the legend, the households and the download."""
    area, lang = data.area, data.view.lang
    facts: list[Any] = [
        html.Dt(t("panel.code", lang)),
        html.Dd(area.code),
        html.Dt(t("panel.level", lang)),
        html.Dd(t(f"level.{area.level}", lang)),
        html.Dt(t("panel.kind", lang)),
        html.Dd(value_label("kind", area.kind, lang)),
        html.Dt(t("panel.children", lang)),
        html.Dd(str(data.n_children)),
    ]
    if data.shows_households:
        shown = data.shown_households
        shown = f"{shown:,}" if isinstance(shown, int) else shown
        facts += [html.Dt(t("panel.households", lang)), html.Dd(shown, id="households-count")]
    content: list[Any] = [html.H2(area.name, id="area-title")]
    if data.empty_village:
        content.append(html.P(t("panel.empty_village", lang), className="note", id="empty-village"))
    content += [*key_figures(data.figures, lang), html.Dl(facts)]
    if area.synthetic:
        content.append(html.P(t("panel.synthetic_area", lang), className="note"))
    if data.n_children:
        content.append(html.P(t("panel.click_hint", lang), className="hint"))
    content += [
        html.H3(t("panel.measures", lang)),
        measure_links(data.view),
        legend(data.shading, lang, has_children=data.n_children > 0),
        *([heat_legend(lang)] if data.view.heat else []),
        *households_note(data),
    ]
    if data.viewer.permissions.may_export and data.viewer.scope.covers(area.code):
        content.append(
            html.A(
                t("panel.download_heat", lang),
                href=heat_download_url(area.code, data.heat, lang),
                title=t("panel.download_heat_title", lang),
                download="",
                className="download",
                id="heat-download",
            )
        )
        # The layer of the measure on screen heads the menu.
        first = data.shading.measure.layer
        content.append(download_menu(data.viewer, area.code, lang, first))
    return content


def side_panel(data: ViewData, public_url: str) -> list[Any]:
    """The whole side panel: language switch, any message, the portrait, then the area."""
    lang = data.view.lang
    content: list[Any] = [
        html.Div(className="panel-header", children=[lang_switch(data.view)]),
        month_picker(data),
        page_links(data),
    ]
    if data.message:
        content.append(html.P(t(data.message, lang), className="error", id="panel-message"))
    if data.portrait is not None:
        close = dcc.Link(
            t("portrait.close", lang),
            href=data.view.with_household(None).url(),
            id="portrait-close",
            className="close",
        )
        content += [
            html.Section(
                className="portrait",
                children=[close, *portrait_panel(data.portrait, public_url, lang)],
            ),
            html.Hr(),
        ]
    return [*content, html.Section(className="area", children=area_section(data))]
