"""The offline village map: one self-contained HTML file (folium) for a village official.

Leaflet's script and stylesheet are inlined from the copy shipped in ``layers/assets/leaflet``
(BSD-2, Leaflet 1.9.4); folium's CDN links are dropped and no tile layer is added, so the file
opens with no network at all. It shows the village boundary, the households coloured by
warning level (each with the fields the official may see) and the open warnings as a list.
A personal-data export: audited with every household it holds, and marked with who made it
and when.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import uuid
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import folium
import psycopg
from branca.element import Element, Figure
from psycopg.rows import dict_row

from core import audit
from core.access import PortraitAccess, User
from layers.catalog import cause_label, get_layer
from layers.layerdata import NoData, NotPermitted, parse_month

_BOUNDARY = (
    "SELECT name, ST_AsGeoJSON(geom, 6) FROM admin_area WHERE code = %s AND level = 'village'"
)
#: folium builds popups with ``$(`<div>…</div>`)[0]`` (jQuery); this one-liner does that without
#: it (a list, as jQuery's result is: a bare node indexed with ``[0]`` gave empty popups).
_DOLLAR = (
    "window.$ = window.$ || function (h) { var t = document.createElement('template');"
    " t.innerHTML = String(h).trim(); return [t.content.firstChild]; };"
)
_LEVELS_ZH = {"red": "红色预警", "orange": "橙色预警", "yellow": "黄色预警", "": "无预警"}


@dataclass(frozen=True, slots=True)
class VillageMap:
    """What was written."""

    path: Path
    village_name: str
    households: int
    bytes: int


@cache
def _asset(name: str) -> str:
    return (resources.files("layers") / "assets" / "leaflet" / name).read_text("utf-8")


@cache
def _sql(name: str) -> str:
    return (resources.files("layers") / "sql" / f"{name}.sql").read_text("utf-8")


def _popup(row: dict[str, Any]) -> str:
    reasons = "；".join(row["reasons_zh"] or [])
    lines = [
        ("户主", row["head_name"]),
        ("户编号", row["household_id"]),
        ("地址", row["address"]),
        ("类别", f"{row['status']} · {row['size']} 人"),
        ("电话", row["phone_masked"]),
        ("致贫原因", cause_label(row["poverty_cause"], "zh")),
        ("预警", _LEVELS_ZH[row["warning_level"] or ""] + (f"：{reasons}" if reasons else "")),
    ]
    return "<br>".join(
        f"<b>{html.escape(k)}</b> {html.escape(str(v))}" for k, v in lines if v not in (None, "")
    )


def _banner(user: User, village: str, name: str, month: str, at: str) -> str:
    text = (
        f"{name}（{village}）离线村图 · {month} · 导出人 {user.display_name}（{user.username}）"
        f" · {at} · 合成数据 synthetic data · 含个人信息，请妥善保管"
    )
    return (
        '<div id="export-mark" style="position:fixed;top:0;left:0;right:0;z-index:1000;'
        "background:#fff8e1;border-bottom:1px solid #c9a227;padding:6px 10px;"
        f'font:14px sans-serif">{html.escape(text)}</div>'
    )


def _open_items(rows: list[dict[str, Any]]) -> str:
    items = [
        f"<li>{html.escape(_LEVELS_ZH[r['warning_level']])} · {html.escape(str(r['head_name']))}"
        f" · {html.escape('；'.join(r['reasons_zh'] or []))}</li>"
        for r in rows
        if r["warning_level"]
    ]
    body = "".join(items) or "<li>无待办预警</li>"
    return (
        '<div id="open-items" style="position:fixed;bottom:10px;left:10px;z-index:1000;'
        "max-height:28vh;overflow:auto;max-width:min(360px,90vw);background:#fff;"
        'border:1px solid #999;padding:6px 10px;font:13px sans-serif"><details>'
        f"<summary><b>待办预警 Open items ({sum(1 for r in rows if r['warning_level'])})</b>"
        f"</summary><ol>{body}</ol></details></div>"
    )


def build_map(
    user: User, *, village: str, name: str, boundary: str, rows: list[dict[str, Any]], month: str
) -> folium.Map:
    """The folium map, with nothing that needs a network."""
    shape = json.loads(boundary)
    fmap = folium.Map(tiles=None, max_zoom=19, zoom_control=True)
    fmap.default_js, fmap.default_css = [], []  # folium's CDN links: never in this file
    root = fmap.get_root()
    assert isinstance(root, Figure)
    root.header.add_child(Element(f"<style>{_asset('leaflet.css')}</style>"), name="leaflet_css")
    root.header.add_child(Element(f"<script>{_asset('leaflet.js')}</script>"), name="leaflet_js")
    root.header.add_child(Element(f"<script>{_DOLLAR}</script>"), name="dollar")
    root.header.add_child(Element("<style>.leaflet-top{top:64px}</style>"), name="below_banner")
    folium.GeoJson(
        shape,
        name=name,
        style_function=lambda _: {
            "color": "#333",
            "weight": 2,
            "fillColor": "#f4f1e8",
            "fillOpacity": 0.6,
        },
    ).add_to(fmap)
    style = get_layer("households").style
    for row in rows:
        folium.CircleMarker(
            location=(row["lat"], row["lon"]),
            radius=7 if row["warning_level"] else 5,
            color="#222",
            weight=1,
            fill=True,
            fill_color=style.colour_of(row["warning_level"] or ""),
            fill_opacity=0.9,
            popup=folium.Popup(_popup(row), max_width=280),
        ).add_to(fmap)
    lons = [c[0] for ring in _rings(shape) for c in ring]
    lats = [c[1] for ring in _rings(shape) for c in ring]
    fmap.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]])
    at = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8)))
    stamp = at.strftime("%Y-%m-%d %H:%M (UTC+8)")
    root.html.add_child(Element(_banner(user, village, name, month, stamp)))
    root.html.add_child(Element(_open_items(rows)))
    root.header.add_child(Element('<meta name="onemap-synthetic" content="true">'))
    return fmap


def _rings(shape: dict[str, Any]) -> list[list[list[float]]]:
    polygons = shape["coordinates"] if shape["type"] == "MultiPolygon" else [shape["coordinates"]]
    return [ring for polygon in polygons for ring in polygon]


def write_village_map(
    conn: psycopg.Connection,
    user: User,
    village: str,
    out: Path,
    *,
    month: str | None = None,
    route: str = "export",
) -> VillageMap:
    """Write the village's offline map for ``user`` and audit it (inside ``scoped()``).

    Raises
    ------
    NotPermitted
        A role without full portrait rights, or a village outside the user's jurisdiction.
    NoData
        No such village.
    """
    if user.permissions.portraits is not PortraitAccess.ALL or not user.scope.covers(village):
        raise NotPermitted(f"{user.username} may not export the village map of {village}")
    found = conn.execute(_BOUNDARY, (village,)).fetchone()
    if found is None:
        raise NoData(f"no village {village}", user_msg="No such village.")
    when = parse_month(month, conn)
    with conn.cursor(row_factory=dict_row) as cursor:
        params = {"month": when, "village": village, "scope_like": user.scope.like}
        rows = cursor.execute(_sql("village_households"), params).fetchall()
    label = when.strftime("%Y-%m")
    build_map(user, village=village, name=found[0], boundary=found[1], rows=rows, month=label).save(
        str(out)
    )
    audit.record(
        conn,
        user=user,
        route=f"{route}:village-map",
        request_id=uuid.uuid4().hex,
        household_ids=[r["household_id"] for r in rows],
        detail={"village": village, "month": label, "households": len(rows), "format": "html"},
    )
    return VillageMap(out, found[0], len(rows), out.stat().st_size)
