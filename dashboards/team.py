"""The team page (/inbox/team): pairing loads, 3-hour attainment, reassignment.

Who carries how many households (over the cap marked), each official's 3-hour attainment this
month, and the reassignment form (single or bulk).
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, request

from analytics import actions
from analytics.assist_settings import get_assist_settings
from analytics.inbox import team_sheet
from dashboards.inbox import message_page, outcome, page_lang, render
from dashboards.inbox_templates import HEAD, TAIL
from dashboards.viewer import current_user, request_id

team_pages = Blueprint("onemap_team", __name__)
_IDS = re.compile(r"H[0-9]{6,24}")

TEAM_PAGE = (
    HEAD
    + """<h1>{{ t('team.title') }}</h1>
<p class="note">{{ t('team.cap', n=cap) }}</p>
{% if done %}<p class="done" role="status">{{ t('inbox.done') }}</p>{% endif %}
<table id="team"><thead><tr><th>{{ t('team.col.official') }}</th>
<th>{{ t('team.col.households') }}</th><th>{{ t('team.col.red') }}</th>
<th>{{ t('team.col.attained') }}</th><th>{{ t('team.col.rate') }}</th></tr></thead><tbody>
{% for r in rows %}
<tr class="{{ 'over' if r.households > cap else '' }}" id="team-{{ r.official_id }}">
<td>{{ r.name }} <small>{{ r.official_id }}</small>{% if r.households > cap %}
<br>{{ t('team.over') }}{% endif %}</td><td>{{ r.households }}</td><td>{{ r.red }}</td>
<td>{{ r.attained }}</td><td>{{ '%.0f%%' % (100 * r.attained / r.red) if r.red else '—' }}</td>
</tr>{% endfor %}</tbody></table>
<h2>{{ t('team.reassign') }}</h2>
<form method="post" action="/inbox/team/reassign" id="reassign" class="stack">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<input type="hidden" name="lang" value="{{ lang }}">
<label for="reassign-households">{{ t('team.reassign_households') }}</label>
<textarea id="reassign-households" name="households" rows="3"></textarea>
<label for="reassign-to">{{ t('team.reassign_to') }}</label>
<input id="reassign-to" name="to" required>
<label for="reassign-reason">{{ t('team.reassign_reason') }}</label>
<input id="reassign-reason" name="reason" maxlength="500" required>
<button type="submit" id="reassign-submit">{{ t('team.reassign') }}</button></form>
"""
    + TAIL
)


@team_pages.get("/inbox/team")
def team_page() -> Response:
    """Officials of the area with their load and attainment (town officials, county leaders)."""
    lang, user = page_lang(), current_user()
    settings = get_assist_settings()
    rows = team_sheet(user, settings.red_hours)
    if not actions.is_area_actor(user):
        return message_page(lang, "inbox.refused", 403)
    return render(
        TEAM_PAGE,
        lang,
        rows=rows,
        cap=settings.max_households_per_official,
        done=request.args.get("done") == "1",
    )


@team_pages.post("/inbox/team/reassign")
def reassign() -> Response:
    """Pair the listed households with another official (audited; the cap applies)."""
    lang, user = page_lang(), current_user()
    households = _IDS.findall(request.form.get("households", ""))
    return outcome(
        lang,
        lambda: actions.reassign(
            user,
            households,
            request.form.get("to", "").strip(),
            reason=request.form.get("reason", ""),
            request_id=request_id(),
        ),
        "/inbox/team",
    )
