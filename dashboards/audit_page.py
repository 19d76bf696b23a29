"""The audit page (``/audit``): who viewed which household when, for auditors and admins.

Rows come from ``audit_log`` through row-level security (only requests made inside the
viewer's jurisdiction), newest first, a page at a time, filtered by user, household and area.
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

from core import db
from core.access import User
from core.errors import BEIJING, NotPermitted, OutOfScope
from core.scope import is_admin_code
from dashboards.messages import normalise_lang, t
from dashboards.pages import page_template, render_page
from dashboards.viewer import current_user
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

    def query(self, **changes: Any) -> dict[str, str]:
        """The filter as query parameters (empty ones left out)."""
        values = {"user": self.username, "household": self.household, "area": self.area}
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
    if (
        (username and not _USERNAME.fullmatch(username))
        or (household and not _HOUSEHOLD.fullmatch(household))
        or (area and not is_admin_code(area))
        or (before and not _AUDIT_ID.fullmatch(before))
    ):
        return None
    if area and not user.scope.covers(area):
        raise OutOfScope(f"audit area {area} is outside scope {user.jurisdiction}")
    return AuditFilter(username, household, area, int(before) if before else None)


def read_audit(conn: psycopg.Connection, wanted: AuditFilter, limit: int) -> list[AuditRow]:
    """Up to ``limit`` rows matching ``wanted``, newest first (row-level security scopes them)."""
    conditions: list[sql.Composable] = [sql.SQL("true")]
    if wanted.username:
        conditions.append(sql.SQL("username = %(username)s"))
    if wanted.household:
        conditions.append(sql.SQL("%(household)s = ANY(household_ids)"))
    if wanted.area:
        conditions.append(sql.SQL("(scope LIKE %(area)s OR detail->>'area' LIKE %(area)s)"))
    if wanted.before is not None:
        conditions.append(sql.SQL("id < %(before)s"))
    query = sql.SQL(
        "SELECT id, at, username, role, scope, route, request_id, household_ids,"
        " detail->>'area' FROM audit_log WHERE {} ORDER BY id DESC LIMIT %(limit)s"
    ).format(sql.SQL(" AND ").join(conditions))
    params = {
        "username": wanted.username,
        "household": wanted.household,
        "area": wanted.area + "%",
        "before": wanted.before,
        "limit": limit,
    }
    return [AuditRow(*row) for row in conn.execute(query, params).fetchall()]


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
<button type="submit">{{ t('audit.filter.submit') }}</button>
<a href="/audit{{ '?lang=en' if lang == 'en' else '' }}">{{ t('audit.filter.clear') }}</a>
</form>
{% if message %}<p class="error" id="audit-message">{{ message }}</p>{% endif %}
<table class="audit-rows" id="audit-rows"><thead><tr>
<th>#</th><th>{{ t('audit.col.at') }}</th><th>{{ t('audit.col.user') }}</th>
<th>{{ t('audit.col.role') }}</th><th>{{ t('audit.col.scope') }}</th>
<th>{{ t('audit.col.route') }}</th><th>{{ t('audit.col.area') }}</th>
<th>{{ t('audit.col.households') }}</th><th>{{ t('audit.col.request') }}</th></tr></thead>
<tbody>{% for row in rows %}<tr>
<td>{{ row.id }}</td><td>{{ when(row.at) }}</td><td>{{ row.username }}</td>
<td>{{ role(row.role) }}</td><td>{{ row.scope }}</td><td>{{ row.route }}</td>
<td>{{ row.area or '' }}</td>
<td class="ids">{{ row.household_ids[:shown] | join(', ') }}
{% if row.household_ids | length > shown %}
 {{ t('audit.more', n=row.household_ids | length) }}{% endif %}</td>
<td><code>{{ row.request_id }}</code></td></tr>
{% else %}<tr><td colspan="9">{{ t('audit.none') }}</td></tr>{% endfor %}</tbody></table>
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
        message=None if wanted is not None else t("audit.bad_filter", lang),
        newest=_href(shown, lang) if shown.before is not None else None,
        older=older,
    )
    return Response(page, status=200 if wanted is not None else 400, mimetype="text/html")
