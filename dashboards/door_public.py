"""The door page for whoever scans the plate without a login: no personal data.

The village, the paired official's work contact, a short help-request form (rate-limited, a
honeypot instead of a CAPTCHA) and a one-time-code form that opens the household's own
benefit list and plan. Logged-in staff get the portrait from the same URL (dashboards/routes.py).
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, redirect, render_template_string, request, session

from analytics.assist_settings import get_assist_settings
from analytics.help_measures import help_measures
from core import db
from dashboards.auth import csrf_token, login_url
from dashboards.messages import HTML_LANG, normalise_lang, t
from layers import door

door_pages = Blueprint("onemap_door", __name__)
#: How long a redeemed one-time code keeps the household's own view open in this browser.
OWN_VIEW_SECONDS = 15 * 60
_STATUS = {"too_long": 422, "empty": 422, "category": 422, "unknown": 404}

_PAGE = """<!doctype html>
<html lang="{{ html_lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ t('door.public.title') }}</title>
<link rel="stylesheet" href="/assets/onemap.css"><link rel="stylesheet" href="/assets/inbox.css">
</head><body><main class="doorpage">
<p><span class="lang-switch">{% if lang == 'en' %}<a href="?">{{ t('lang.zh') }}</a>
{% else %}<a href="?lang=en">{{ t('lang.en') }}</a>{% endif %}</span></p>
<h1>{{ t('door.public.title') }}</h1>
<p class="synthetic">{{ t('inbox.synthetic') }}</p>
{% if contact %}<p class="place" id="door-place">{{ contact.county }} {{ contact.town }}
{{ contact.village }}</p>
<p class="contact" id="door-contact">{{ t('door.public.official') }}
{{ contact.official_name or '—' }} · <a href="tel:{{ contact.work_phone }}">{{ contact.work_phone
 or '—' }}</a></p>{% endif %}
{% if message %}<p class="{{ 'done' if ok else 'error' }}" role="status" id="door-message">
{{ message }}</p>{% endif %}
{% if own is not none %}<h2>{{ t('door.public.own') }}</h2><ul id="door-own">{% for row in own %}
<li>{{ row }}</li>{% else %}<li>{{ t('door.public.own_none') }}</li>{% endfor %}</ul>{% endif %}
<h2>{{ t('door.public.ask') }}</h2>
<form method="post" action="/h/{{ token }}/request" id="door-request" class="stack">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<input type="hidden" name="lang" value="{{ lang }}">
<label for="door-category">{{ t('door.public.category') }}</label>
<select id="door-category" name="category">{% for c in categories %}
<option value="{{ c }}">{{ t('door.public.category.' + c) }}</option>{% endfor %}</select>
<label for="door-text">{{ t('door.public.text', n=max_chars) }}</label>
<textarea id="door-text" name="text" rows="4" maxlength="{{ max_chars }}" required></textarea>
<div class="hp" aria-hidden="true"><label for="door-website">Website</label>
<input id="door-website" name="website" tabindex="-1" autocomplete="off"></div>
<button type="submit" id="door-send">{{ t('door.public.send') }}</button></form>
<h2>{{ t('door.public.code_title') }}</h2>
<form method="post" action="/h/{{ token }}/code" id="door-code" class="stack">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<input type="hidden" name="lang" value="{{ lang }}">
<label for="door-code-input">{{ t('door.public.code') }}</label>
<input id="door-code-input" name="code" maxlength="8" autocomplete="off" required>
<button type="submit" id="door-code-send">{{ t('door.public.code_send') }}</button></form>
<p><a id="door-login" class="button" href="{{ login }}">{{ t('door.login_link') }}</a></p>
</main></body></html>"""


def _own_lines(token: str, lang: str) -> list[str] | None:
    held = session.get("door_own")
    if not held or held.get("token") != token or held.get("until", 0) < time.time():
        return None
    measures = help_measures()
    with db.app_connection() as conn:
        rows = door.own_view(conn, str(held["household"]))
    lines = []
    for kind, code, name, state in rows:
        if kind == "plan":
            label = measures[code].name(lang) if code in measures else code
            lines.append(
                f"{t('sheet.plan', lang)}: {label} · {t('sheet.plan_status.' + state, lang)}"
            )
        else:
            lines.append(f"{name or code} · {t('benefit.state.' + state, lang)}")
    return lines


def public_door(
    token: str, lang: str, *, message: str = "", ok: bool = False, status: int = 200
) -> Response:
    """The anonymous page of a plate (unknown codes get the same page without a contact)."""
    with db.app_connection() as conn:
        contact = door.contact(conn, token)
    page = render_template_string(
        _PAGE,
        t=lambda key, **values: t(key, lang, **values),
        html_lang=HTML_LANG[lang],
        lang=lang,
        token=token,
        csrf=csrf_token(),
        contact=contact,
        message=message,
        ok=ok,
        own=_own_lines(token, lang),
        categories=door.REQUEST_CATEGORIES,
        max_chars=get_assist_settings().request_max_chars,
        login=login_url(f"/h/{token}"),
    )
    if contact is None and status == 200:
        status = 404
    response = Response(page, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


@door_pages.post("/h/<token>/request")
def ask(token: str) -> Response:
    """Take a help request into the paired official's inbox (24 h deadline)."""
    lang = normalise_lang(request.form.get("lang"))
    if request.form.get("website"):  # a bot filled the hidden field: say thanks, keep nothing
        return public_door(token, lang, message=t("door.public.received", lang), ok=True)
    settings = get_assist_settings()
    try:
        with db.app_connection() as conn:
            door.submit_request(
                conn,
                token,
                category=request.form.get("category", ""),
                body=request.form.get("text", ""),
                address=request.remote_addr or "-",
                max_chars=settings.request_max_chars,
                hours=settings.request_hours,
                per_plate=settings.requests_per_plate_hour,
                per_ip=settings.requests_per_ip_hour,
            )
    except door.RequestRefused as error:
        message = t(f"door.public.refused.{error.reason}", lang, n=settings.request_max_chars)
        return public_door(token, lang, message=message, status=_STATUS.get(error.reason, 429))
    return public_door(token, lang, message=t("door.public.received", lang), ok=True)


@door_pages.post("/h/<token>/code")
def code(token: str) -> Response:
    """Redeem a one-time code: the household's own list opens in this browser for a while."""
    lang = normalise_lang(request.form.get("lang"))
    with db.app_connection() as conn:
        household = door.redeem(conn, token, request.form.get("code", ""))
    if household is None:
        return public_door(token, lang, message=t("door.public.bad_code", lang), status=403)
    session["door_own"] = {
        "token": token,
        "household": household,
        "until": time.time() + OWN_VIEW_SECONDS,
    }
    return redirect(f"/h/{token}" + ("?lang=en" if lang == "en" else ""))  # type: ignore[return-value]
