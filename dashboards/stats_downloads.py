"""Downloads of the statistics page's tables: ``/downloads/stats/<table>.<xlsx|csv>``.

The same tables the page shows (same suppression), written by :mod:`layers.table_export`;
every download is an export and written to the audit trail.
"""

from __future__ import annotations

import pandas as pd
from flask import Blueprint, Response, request

from core import audit, db
from dashboards.messages import t
from dashboards.state import View
from dashboards.stats_view import Effectiveness, load_effectiveness, load_stats
from dashboards.viewer import current_user, request_id
from layers.months import month_label, resolve_month
from layers.portrait import UnknownHousehold
from layers.table_export import FORMATS, csv_bytes, xlsx_bytes

stats_downloads = Blueprint("onemap_stats_downloads", __name__)
TABLES = ("series", "factors", "ranking", "effect")
_MIME = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


class UnknownTable(UnknownHousehold):
    """A download name that is not one of the page's tables (404)."""

    user_msg = "No such table."


def effect_frame(effect: Effectiveness | None) -> pd.DataFrame:
    """The effectiveness table as a frame (no figure where there is not enough data)."""
    columns = ["policy", "name_zh", "name_en", "n_treated", "n_control", "effect", "low", "high"]
    rows = [
        [r.code, r.name_zh, r.name_en, r.n_treated, r.n_control, r.effect, r.low, r.high]
        for r in (effect.rows if effect else [])
    ]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.round({"effect": 2, "low": 2, "high": 2})


def headers(lang: str, frame: pd.DataFrame) -> dict[str, str]:
    """Column headers in ``lang`` (factor columns by their names; others as they are)."""
    out: dict[str, str] = {}
    for column in map(str, frame.columns):
        for key in (f"stats.col.{column}", f"factor.{column}", f"effect.col.{column}"):
            if t(key, lang) != key:
                out[column] = t(key, lang)
                break
    return out


@stats_downloads.get("/downloads/stats/<table>.<fmt>")
def download_table(table: str, fmt: str) -> Response:
    """One table of the statistics page as XLSX or CSV, in the viewer's scope."""
    if table not in TABLES or fmt not in FORMATS:
        raise UnknownTable(f"no table {table}.{fmt}")
    user = current_user()
    view = View.from_search(request.query_string.decode(), user.jurisdiction)
    with db.scoped(user.scope) as conn:
        data = load_stats(conn, user, view)
        stats = data.stats
        if table == "effect":
            month = resolve_month(data.months, view.month)
            frame = effect_frame(load_effectiveness(conn, view.area, data.months, month))
        else:
            frame = {"series": stats.series, "factors": stats.factors, "ranking": stats.ranking}[
                table
            ]
        name = f"onemap-{table}-{view.area}-{month_label(stats.month)}-synthetic.{fmt}"
        audit.record(
            conn,
            user=user,
            route=request.path,
            request_id=request_id(),
            household_ids=[],
            detail={"area": view.area, "export": name},
        )
    labels = headers(view.lang, frame)
    body = xlsx_bytes({table: frame}, labels) if fmt == "xlsx" else csv_bytes(frame, labels)
    response = Response(body, mimetype=_MIME[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
