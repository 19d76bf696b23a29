"""The field page (``/field``): phone-first, for a village official on the road.

Their village's households (warned first) with search by door-plate number or name, each
opening the portrait on the map; "locate me" (browser geolocation, script served from here:
the CSP allows no inline script); and the offline village map download
(``/downloads/village-map/<village>.html``), a personal-data export that is audited.
"""

from __future__ import annotations

import html
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from flask import Blueprint, Response, request

from core import audit, db
from dashboards.messages import normalise_lang, t
from dashboards.viewer import current_user, mark_personal, request_id
from layers.catalog import cause_label, get_layer
from layers.field import field_households, villages_of
from layers.layerdata import parse_month
from layers.village_map import write_village_map

field_pages = Blueprint("onemap_field", __name__)

_STYLE = """
body{margin:0;font:16px/1.45 system-ui,"Noto Sans CJK SC",sans-serif;background:#f6f6f2}
header{background:#24425c;color:#fff;padding:10px 14px}header h1{font-size:18px;margin:0}
main{padding:10px 12px;max-width:720px;margin:auto}form{display:flex;gap:6px}
input[type=search]{flex:1;font-size:16px;padding:10px;border:1px solid #999;border-radius:6px}
button,.button{font-size:16px;padding:10px 12px;border-radius:6px;border:0;background:#24425c;
color:#fff;text-decoration:none;display:inline-block}
.actions{display:flex;flex-wrap:wrap;gap:8px;margin:10px 0}
ul.households{list-style:none;padding:0;margin:0}
ul.households li{background:#fff;margin:6px 0;padding:10px;border-radius:8px;
border-left:8px solid var(--c)}ul.households a{color:#111;text-decoration:none;display:block}
.meta{color:#555;font-size:14px}.note{color:#666;font-size:13px}#locate-result{font-size:14px}
"""
_LOCATE_JS = """
document.getElementById('locate').addEventListener('click', function () {
  var out = document.getElementById('locate-result');
  if (!navigator.geolocation) { out.textContent = out.dataset.unsupported; return; }
  navigator.geolocation.getCurrentPosition(function (p) {
    var best = null, bestD = Infinity;
    document.querySelectorAll('li[data-lat]').forEach(function (li) {
      var dy = (li.dataset.lat - p.coords.latitude) * 111320;
      var dx = (li.dataset.lon - p.coords.longitude) * 111320 * Math.cos(p.coords.latitude / 57.3);
      var d = Math.sqrt(dx * dx + dy * dy); if (d < bestD) { bestD = d; best = li; }
    });
    out.textContent = p.coords.latitude.toFixed(5) + ', ' + p.coords.longitude.toFixed(5);
    if (best) { best.scrollIntoView(); best.style.outline = '3px solid #24425c'; }
  }, function () { out.textContent = out.dataset.failed; });
});
"""


@field_pages.get("/field/locate.js")
def locate_script() -> Response:
    """The "locate me" script (served from here: the CSP forbids inline scripts)."""
    return Response(_LOCATE_JS, mimetype="text/javascript")


def _item(row: dict[str, object], village: str, lang: str) -> str:
    colour = get_layer("households").style.colour_of(row["warning_level"])
    href = "/?" + urlencode({"area": village, "household": row["household_id"], "lang": lang})
    cause = cause_label(str(row["poverty_cause"] or ""), lang)
    meta = f"{row['address']} · {row['status']} · {row['size']} · {cause}"
    return (
        f'<li style="--c:{colour}" data-lat="{float(row["lat"]):.6f}"'  # type: ignore[arg-type]
        f' data-lon="{float(row["lon"]):.6f}"><a href="{html.escape(href)}">'  # type: ignore[arg-type]
        f"<b>{html.escape(str(row['head_name'] or '—'))}</b>"
        f'<div class="meta">{html.escape(meta)}</div></a></li>'
    )


@field_pages.get("/field")
def field_page() -> Response:
    """The official's village: households, search, locate me, the offline map button."""
    user, lang = current_user(), normalise_lang(request.args.get("lang"))
    query = request.args.get("q", "")
    with db.scoped(user.scope) as conn:
        month = parse_month(None, conn)
        villages = villages_of(conn, user, month)
        village = request.args.get("village") or (villages[0][0] if villages else user.jurisdiction)
        rows = field_households(conn, user, village, month, query)
        audit.record(
            conn,
            user=user,
            route="/field",
            request_id=request_id(),
            household_ids=[str(r["household_id"]) for r in rows],
            detail={"village": village, "query": bool(query), "view": "field"},
        )
    mark_personal()
    name = next((n for c, n, _ in villages if c == village), village)
    items = "".join(_item(r, village, lang) for r in rows)
    page = _page(lang, village, name=name, query=query, items=items, count=len(rows))
    return Response(page, mimetype="text/html")


def _page(lang: str, village: str, *, name: str, query: str, items: str, count: int) -> str:
    def say(key: str) -> str:
        return html.escape(t(key, lang))

    esc = html.escape
    map_href = esc("/?" + urlencode({"area": village, "lang": lang}))
    download = f"/downloads/village-map/{esc(village)}.html"
    return "\n".join(
        [
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{say('field.title')}</title><style>{_STYLE}</style></head><body>",
            f'<header><h1 id="field-title">{esc(name)} · {say("field.title")}</h1>',
            f'<div class="note" style="color:#dde">{say("field.synthetic")}</div></header>',
            '<main><form method="get" action="/field">',
            f'<input type="hidden" name="village" value="{esc(village)}">',
            f'<input type="hidden" name="lang" value="{lang}">',
            f'<input type="search" id="field-search" name="q" value="{esc(query)}"',
            f' placeholder="{say("field.search")}">',
            f'<button type="submit">{say("field.go")}</button></form><div class="actions">',
            f'<button type="button" id="locate">{say("field.locate")}</button>',
            f'<a class="button" id="village-map-download" href="{download}" download>',
            f"{say('field.offline_map')}</a>",
            f'<a class="button" href="{map_href}">{say("field.map")}</a></div>',
            f'<div id="locate-result" data-unsupported="{say("field.no_geo")}"',
            f' data-failed="{say("field.geo_failed")}"></div>',
            f'<p class="note">{esc(t("field.count", lang).format(n=count))}</p>',
            f'<ul class="households" id="field-households">{items}</ul></main>',
            '<script src="/field/locate.js"></script></body></html>',
        ]
    )


@field_pages.get("/downloads/village-map/<village>.html")
def village_map_download(village: str) -> Response:
    """The offline village map (self-contained HTML): a personal-data export, audited."""
    user = current_user()
    folder = Path(tempfile.mkdtemp(prefix="onemap-village-"))
    try:
        out = folder / "map.html"
        with db.scoped(user.scope) as conn:
            write_village_map(conn, user, village, out, route="/downloads")
        body = out.read_bytes()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    mark_personal()
    response = Response(body, mimetype="text/html")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="onemap-village-{village}.html"'
    )
    return response
