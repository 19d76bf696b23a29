"""The household portrait as Dash components, and its QR code (小康码)."""

from __future__ import annotations

from typing import Any

import segno
from dash import dcc, html

from dashboards.routes import BENEFIT_STATES_ZH
from layers.portrait import Portrait

_STATE_ZH = BENEFIT_STATES_ZH
_LEVEL_ZH = {"red": "红色", "orange": "橙色", "yellow": "黄色"}
_STATUS_ZH = {
    "raised": "已发出",
    "acknowledged": "已签收",
    "verified": "已核实",
    "resolved": "已解除",
    "dismissed": "已撤销",
}


def token_url(public_url: str, token: str) -> str:
    """The address a door QR code opens."""
    return f"{public_url.rstrip('/')}/h/{token}"


def qr_data_uri(url: str) -> str:
    """An SVG QR code as a data: URI (nothing is fetched from anywhere)."""
    return str(segno.make(url, error="m").svg_data_uri(scale=3, border=2))


def _fields(pairs: list[tuple[str, Any]]) -> html.Dl:
    items: list[Any] = []
    for label, value in pairs:
        items += [html.Dt(label), html.Dd("—" if value is None else str(value))]
    return html.Dl(items)


def _benefit(row: dict[str, Any]) -> html.Li:
    due = row["amount_due"]
    amount = f" · 应发 {due:,.2f} 元" if due is not None else ""
    return html.Li(
        f"{row['name_zh']}（{row['policy_code']}）· {_STATE_ZH[row['state']]}{amount}",
        className=f"benefit benefit-{row['state']}",
    )


def _income_chart(portrait: Portrait) -> Any:
    if not portrait.income_history:
        return html.P("暂无收入数据")
    months = [m.strftime("%Y-%m") for m, _ in portrait.income_history]
    values = [v for _, v in portrait.income_history]
    figure = {
        "data": [
            {
                "x": months,
                "y": values,
                "type": "scatter",
                "mode": "lines+markers",
                "line": {"color": "#1f3a5f"},
            }
        ],
        "layout": {
            "xaxis": {"type": "category"},
            "height": 160,
            "margin": {"l": 40, "r": 10, "t": 10, "b": 30},
            "yaxis": {"title": {"text": "元/人·月"}},
            "shapes": [
                {
                    "type": "line",
                    "xref": "paper",
                    "x0": 0,
                    "x1": 1,
                    "y0": 1145,
                    "y1": 1145,
                    "line": {"dash": "dot", "color": "#bd0026"},
                }
            ],
        },
    }
    return dcc.Graph(
        figure=figure, config={"displayModeBar": False, "staticPlot": True}, id="income-chart"
    )


def portrait_panel(portrait: Portrait, public_url: str) -> list[Any]:
    """The side panel for one household, grouped as the portrait's 61 fields are.

    Basics, members, income, housing and water, benefit list, warnings with their lifecycle,
    paired official and visits, and the door code. Every value is rendered as text.
    """
    b = portrait.basics
    sections: list[Any] = [
        html.H2(f"户 {portrait.household_id}", id="portrait-title"),
        html.P(
            f"{b['county']} · {b['town']} · {b['village']}（数据月份 "
            f"{portrait.month:%Y-%m}，均为合成数据）",
            className="note",
        ),
        html.H3("基本信息"),
        _fields(
            [
                ("救助类别", b["status"]),
                ("家庭人口", b["size"]),
                ("住址", b["address"]),
                ("联系电话", b["phone_masked"]),
                ("位置精度", "GPS" if b["geo_precision"] == "gps" else "村内估计"),
                ("山区26县", "是" if b["mountain"] else "否"),
            ]
        ),
        html.H3("家庭成员"),
        html.Table(
            className="members",
            children=[
                html.Tr(
                    [html.Th(h) for h in ("姓名", "关系", "性别", "年龄", "身份证号", "健康/残疾")]
                ),
                *[
                    html.Tr(
                        [
                            html.Td(m["name"]),
                            html.Td(m["relation"]),
                            html.Td(m["sex"]),
                            html.Td(m["age"]),
                            html.Td(m["id_masked"]),
                            html.Td(
                                " ".join(
                                    filter(
                                        None,
                                        [
                                            "慢性病" if m["chronic_illness"] else "",
                                            "大病" if m["serious_illness"] else "",
                                            f"{m['disability_type']}残疾{m['disability_grade']}级"
                                            if m["disability_grade"]
                                            else "",
                                            m["school_stage"] or "",
                                        ],
                                    )
                                )
                                or "—"
                            ),
                        ]
                    )
                    for m in portrait.members
                ],
            ],
        ),
        html.H3("收入"),
        _fields([("人均月收入", b["income_per_capita"]), ("环比变化 %", b["income_change_pct"])]),
        _income_chart(portrait),
        html.H3("住房与饮水"),
        _fields(
            [
                ("房屋安全等级", b["housing_grade"]),
                (
                    "饮水安全",
                    None if b["water_safe"] is None else ("安全" if b["water_safe"] else "不安全"),
                ),
                ("水源", b["water_source"]),
                ("地质灾害易发度", None if b["hazard"] is None else f"{b['hazard']:.2f}"),
                ("本月受灾", "是" if b["in_disaster"] else "否"),
            ]
        ),
        html.H3("幸福清单"),
        html.Ul(
            className="benefits",
            children=[_benefit(x) for x in portrait.benefits] or [html.Li("暂无")],
        ),
        html.H3("返贫预警"),
        html.Ul(
            className="warnings",
            children=[
                html.Li(
                    className=f"warning warning-{w['level']}",
                    children=[
                        html.Strong(
                            f"{_LEVEL_ZH[w['level']]}预警 · {w['score']:.0f} 分 · "
                            f"{_STATUS_ZH[w['status']]}"
                        ),
                        html.Ul([html.Li(reason) for reason in w["reasons_zh"]]),
                        html.Small(
                            " → ".join(
                                f"{label} {at:%m-%d %H:%M}"
                                for label, at in (
                                    ("发出", w["raised_at"]),
                                    ("签收", w["acknowledged_at"]),
                                    ("核实", w["verified_at"]),
                                    ("关闭", w["closed_at"]),
                                )
                                if at
                            )
                        ),
                    ],
                )
                for w in portrait.warnings
            ]
            or [html.Li("无")],
        ),
        html.H3("结对干部与走访"),
        _fields([("结对干部", b["official_id"]), ("最近走访", b["last_visit"])]),
        html.Ul(
            className="visits",
            children=[
                html.Li(
                    f"{v['visit_time']:%Y-%m-%d %H:%M} {v['official_name']}：{v['content'] or ''}"
                )
                for v in portrait.visits
            ]
            or [html.Li("暂无走访记录")],
        ),
    ]
    if portrait.token:
        url = token_url(public_url, portrait.token)
        sections += [
            html.H3("小康码"),
            html.Img(src=qr_data_uri(url), alt="小康码", id="door-qr"),
            html.Div(
                dcc.Link(
                    "打开小康码页面", href=f"/h/{portrait.token}", refresh=True, id="door-link"
                )
            ),
        ]
    return sections
