"""The audit page (``/audit``): who viewed which household when, for auditors and admins.

Rows come from ``audit_log`` through row-level security (only requests made inside the
viewer's jurisdiction), newest first, a page at a time, filtered by user, household, area and
a range of dates (Beijing time); each row says what a person did ("portrait of H… opened"), not
the internal route. The same rows download as CSV or XLSX (:mod:`dashboards.audit_export`).
Server-rendered; Jinja escapes every value.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import psycopg
from flask import Blueprint, Response, request
from psycopg import sql
from werkzeug.exceptions import NotFound

from core import db
from core.access import User
from core.errors import BEIJING, NotPermitted, OutOfScope
from core.scope import is_admin_code
from dashboards.audit_export import audit_table, csv_bytes, xlsx_bytes
from dashboards.messages import normalise_lang, t
from dashboards.pages import page_template, render_page
from dashboards.viewer import audited_request, current_user
from dashboards.websettings import get_web_settings

audit_pages = Blueprint("onemap_audit", __name__)

_USERNAME = re.compile(r"[a-z][a-z0-9_.-]{2,39}")
_HOUSEHOLD = re.compile(r"H[0-9]{6,24}")
#: An audit row id: ASCII digits that fit a bigint (``isdigit`` takes "²", ``int`` 4,301 digits).
_AUDIT_ID = re.compile(r"[0-9]{1,18}")
#: Household ids listed per row (the rest are counted).
_IDS_SHOWN = 10


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What the auditor asked for (every field optional)."""

    username: str = ""
    household: str = ""
    area: str = ""
    before: int | None = None
    #: First and last day (Beijing time), both included.
    since: dt.date | None = None
    until: dt.date | None = None

    def query(self, **changes: Any) -> dict[str, str]:
        """The filter as query parameters (empty ones left out)."""
        values = {
            "user": self.username,
            "household": self.household,
            "area": self.area,
            "from": self.since.isoformat() if self.since else "",
            "to": self.until.isoformat() if self.until else "",
        }
        values |= {k: str(v) for k, v in changes.items() if v is not None}
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One audit row as the page shows it."""

    id: int
    at: dt.datetime
    username: str
    role: str
    scope: str
    route: str
    request_id: str
    household_ids: list[str]
    area: str | None
    #: What the request showed or wrote (``detail->>'view'`` / ``detail->>'export'``).
    view: str | None = None
    export: str | None = None
    #: The area's name (reference data), for actions in words.
    area_name: str | None = None


def parse_filter(args: Any, user: User) -> AuditFilter | None:
    """The filter from the query string; None when malformed.

    Raises
    ------
    OutOfScope
        An area outside the auditor's jurisdiction.
    """
    username = str(args.get("user", "")).strip()
    household = str(args.get("household", "")).strip()
    area = str(args.get("area", "")).strip()
    before = str(args.get("before", "")).strip()
    try:
        since, until = _day(args.get("from")), _day(args.get("to"))
    except ValueError:
        return None
    if (
        (username and not _USERNAME.fullmatch(username))
        or (household and not _HOUSEHOLD.fullmatch(household))
        or (area and not is_admin_code(area))
        or (before and not _AUDIT_ID.fullmatch(before))
        or (since and until and since > until)
    ):
        return None
    if area and not user.scope.covers(area):
        raise OutOfScope(f"audit area {area} is outside scope {user.jurisdiction}")
    return AuditFilter(username, household, area, int(before) if before else None, since, until)


def _day(value: Any) -> dt.date | None:
    """A date from ``YYYY-MM-DD`` (empty: none). Raises ValueError when malformed."""
    text = str(value or "").strip()
    return dt.date.fromisoformat(text) if text else None


def _beijing_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=BEIJING)


def read_audit(conn: psycopg.Connection, wanted: AuditFilter, limit: int) -> list[AuditRow]:
    """Up to ``limit`` rows matching ``wanted``, newest first (row-level security scopes them)."""
    conditions: list[sql.Composable] = [sql.SQL("true")]
    if wanted.username:
        conditions.append(sql.SQL("l.username = %(username)s"))
    if wanted.household:
        conditions.append(sql.SQL("%(household)s = ANY(l.household_ids)"))
    if wanted.area:
        conditions.append(sql.SQL("(l.scope LIKE %(area)s OR l.detail->>'area' LIKE %(area)s)"))
    if wanted.before is not None:
        conditions.append(sql.SQL("l.id < %(before)s"))
    if wanted.since is not None:
        conditions.append(sql.SQL("l.at >= %(since)s"))
    if wanted.until is not None:
        conditions.append(sql.SQL("l.at < %(until)s"))
    query = sql.SQL(
        "SELECT l.id, l.at, l.username, l.role, l.scope, l.route, l.request_id, l.household_ids,"
        " l.detail->>'area', l.detail->>'view', l.detail->>'export', a.name"
        " FROM audit_log l LEFT JOIN admin_area a ON a.code = l.detail->>'area'"
        " WHERE {} ORDER BY l.id DESC LIMIT %(limit)s"
    ).format(sql.SQL(" AND ").join(conditions))
    params = {
        "username": wanted.username,
        "household": wanted.household,
        "area": wanted.area + "%",
        "before": wanted.before,
        "since": _beijing_midnight(wanted.since) if wanted.since else None,
        "until": _beijing_midnight(wanted.until + dt.timedelta(days=1)) if wanted.until else None,
        "limit": limit,
    }
    return [AuditRow(*row) for row in conn.execute(query, params).fetchall()]


#: At most this many rows in one download (newest first; narrow the filter for older ones).
EXPORT_LIMIT = 50_000
#: Routes as a person would name what was done, with the message id that says it.
_ACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"/_dash-update-component#portrait"), "audit.action.portrait"),
    (re.compile(r"/api/areas/[0-9]+/households\.geojson"), "audit.action.households"),
    (re.compile(r"/downloads/heat/[0-9]+\.tif"), "audit.action.heat_export"),
    (re.compile(r"/h/<token>"), "audit.action.door"),
    (re.compile(r"/audit/export\.(csv|xlsx)"), "audit.action.audit_export"),
)


def action_label(row: AuditRow, lang: str) -> str:
    """What the person did, in words ("portrait of H… opened"); else the route as recorded."""
    first = row.household_ids[0] if row.household_ids else ""
    for pattern, key in _ACTIONS:
        if pattern.fullmatch(row.route):
            area = row.area_name or row.area or ""
            return t(key, lang, household=first, area=area, n=len(row.household_ids))
    return row.route


_PAGE = page_template(
    "{{ t('audit.title') }}",
    '<main class="audit">',
    """<p><a href="/{{ '?lang=en' if lang == 'en' else '' }}" id="back-to-map">
{{ t('audit.back_to_map') }}</a></p>
<h1>{{ t('audit.title') }}</h1>
<p class="note">{{ t('audit.scope_note', area=scope) }}</p>
<form method="get" action="/audit" id="audit-filter">
{% if lang == 'en' %}<input type="hidden" name="lang" value="en">{% endif %}
<label>{{ t('audit.filter.user') }} <input name="user" value="{{ wanted.username }}"></label>
<label>{{ t('audit.filter.household') }}
<input name="household" value="{{ wanted.household }}"></label>
<label>{{ t('audit.filter.area') }} <input name="area" value="{{ wanted.area }}"></label>
<label>{{ t('audit.filter.from') }} <input type="date" name="from" id="audit-from"
 value="{{ wanted.since or '' }}"></label>
<label>{{ t('audit.filter.to') }} <input type="date" name="to" id="audit-to"
 value="{{ wanted.until or '' }}"></label>
<button type="submit">{{ t('audit.filter.submit') }}</button>
<a href="/audit{{ '?lang=en' if lang == 'en' else '' }}">{{ t('audit.filter.clear') }}</a>
</form>
<p class="exports">{{ t('audit.export.label') }}
<a href="{{ csv }}" id="audit-csv" download>CSV</a>
<a href="{{ xlsx }}" id="audit-xlsx" download>XLSX</a>
<span class="hint">{{ t('audit.export.note', n=export_limit) }}</span></p>
{% if message %}<p class="error" id="audit-message">{{ message }}</p>{% endif %}
<div class="audit-scroll"><table class="audit-rows" id="audit-rows"><thead><tr>
<th>#</th><th>{{ t('audit.col.at') }}</th><th>{{ t('audit.col.user') }}</th>
<th>{{ t('audit.col.role') }}</th><th>{{ t('audit.col.scope') }}</th>
<th>{{ t('audit.col.route') }}</th><th>{{ t('audit.col.area') }}</th>
<th>{{ t('audit.col.households') }}</th><th>{{ t('audit.col.request') }}</th></tr></thead>
<tbody>{% for row in rows %}<tr>
<td>{{ row.id }}</td><td>{{ when(row.at) }}</td><td>{{ row.username }}</td>
<td>{{ role(row.role) }}</td><td>{{ row.scope }}</td>
<td title="{{ row.route }}">{{ action(row) }}</td>
<td>{{ row.area_name or '' }} {{ row.area or '' }}</td>
<td class="ids">{{ row.household_ids[:shown] | join(', ') }}
{% if row.household_ids | length > shown %}
 {{ t('audit.more', n=row.household_ids | length) }}{% endif %}</td>
<td><code>{{ row.request_id }}</code></td></tr>
{% else %}<tr><td colspan="9">{{ t('audit.none') }}</td></tr>{% endfor %}</tbody></table></div>
<p class="pages">
{% if newest %}<a href="{{ newest }}" id="audit-newest">{{ t('audit.newest') }}</a>{% endif %}
{% if older %}<a href="{{ older }}" id="audit-older">{{ t('audit.older') }}</a>{% endif %}</p>
</main></body></html>""",
)


def _href(wanted: AuditFilter, lang: str, **changes: Any) -> str:
    query = wanted.query(**changes) | ({"lang": "en"} if lang == "en" else {})
    return "/audit?" + urlencode(query)


@audit_pages.get("/audit")
def audit_page() -> Response:
    """Who viewed which household when, inside the viewer's jurisdiction (auditors, admins)."""
    user = current_user()
    if not user.permissions.audit_view:
        raise NotPermitted(f"{user.role.value} may not read the audit trail")
    lang = normalise_lang(request.args.get("lang"))
    wanted = parse_filter(request.args, user)
    size = get_web_settings().audit_page_size
    rows: list[AuditRow] = []
    if wanted is not None:
        with db.scoped(user.scope) as conn:
            rows = read_audit(conn, wanted, size + 1)
    shown = wanted or AuditFilter()
    older = _href(shown, lang, before=rows[size - 1].id) if len(rows) > size else None
    export = shown.query() | ({"lang": "en"} if lang == "en" else {})
    page = render_page(
        _PAGE,
        lang,
        shown.query(before=shown.before),
        scope=user.jurisdiction,
        wanted=shown,
        rows=rows[:size],
        shown=_IDS_SHOWN,
        when=lambda at: f"{at.astimezone(BEIJING):%Y-%m-%d %H:%M:%S}",
        role=lambda role: t(f"role.{role}", lang),
        action=lambda row: action_label(row, lang),
        csv="/audit/export.csv?" + urlencode(export),
        xlsx="/audit/export.xlsx?" + urlencode(export),
        export_limit=f"{EXPORT_LIMIT:,}",
        message=None if wanted is not None else t("audit.bad_filter", lang),
        newest=_href(shown, lang) if shown.before is not None else None,
        older=older,
    )
    return Response(page, status=200 if wanted is not None else 400, mimetype="text/html")


@audit_pages.get("/audit/export.<kind>")
def audit_export(kind: str) -> Response:
    """The filtered rows as CSV or XLSX (auditors, admins); the download is itself audited."""
    user = current_user()
    if not user.permissions.audit_view:
        raise NotPermitted(f"{user.role.value} may not read the audit trail")
    if kind not in ("csv", "xlsx"):
        raise NotFound(f"no audit export as {kind!r}")
    lang = normalise_lang(request.args.get("lang"))
    wanted = parse_filter(request.args, user)
    if wanted is None:
        return Response(t("audit.bad_filter", lang), status=400, mimetype="text/plain")
    name = f"audit-{user.jurisdiction}-synthetic-data.{kind}"
    with audited_request(user) as trail:
        rows = read_audit(trail.conn, wanted, EXPORT_LIMIT)
        trail.shows([], export=name, rows=len(rows), filter=wanted.query())
    headers, cells = audit_table(rows, lang, lambda row: action_label(row, lang))
    if kind == "csv":
        body, mimetype = csv_bytes(headers, cells), "text/csv"
    else:
        body = xlsx_bytes(headers, cells, t("audit.export.synthetic", lang))
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
