"""XLSX downloads of the supervision page: officials with their findings, and inspections."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, request

from core import audit, db
from dashboards.messages import t
from dashboards.stats_downloads import UnknownTable
from dashboards.supervision_view import SupervisionQuery, load_supervision
from dashboards.viewer import current_user, request_id
from layers.months import month_label
from layers.table_export import xlsx_bytes

supervision_downloads = Blueprint("onemap_supervision_downloads", __name__)
TABLES = ("officials", "inspections")
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@supervision_downloads.get("/downloads/supervision/<table>.xlsx")
def download(table: str) -> Response:
    """The officials' findings or the inspections of an area and month (403 for others)."""
    if table not in TABLES:
        raise UnknownTable(f"no supervision table {table}")
    user = current_user()
    query = SupervisionQuery.parse(urlencode(request.args), user.jurisdiction)
    with db.scoped(user.scope) as conn:
        data = load_supervision(conn, user, query)
        frame = data.officials if table == "officials" else data.inspections
        name = f"onemap-{table}-{query.area}-{month_label(data.month)}-synthetic.xlsx"
        audit.record(
            conn,
            user=user,
            route=request.path,
            request_id=request_id(),
            household_ids=[],
            detail={"area": query.area, "export": name, "named": data.names},
        )
    headers = {str(c): t(f"sup.col.{c}", query.lang) for c in frame.columns}
    response = Response(xlsx_bytes({table: frame}, headers), mimetype=_XLSX)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
