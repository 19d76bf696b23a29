"""Jinja templates of the inbox pages (autoescaped: names and request texts are text)."""

from __future__ import annotations

HEAD = """<!doctype html>
<html lang="{{ html_lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ t('inbox.title') }}</title>
<link rel="stylesheet" href="/assets/onemap.css"><link rel="stylesheet" href="/assets/inbox.css">
<script src="/assets/inbox.js" defer></script></head>
<body><main class="inbox">
<header class="inbox-head"><a href="/{{ suffix }}" id="back-to-map">{{ t('inbox.back_to_map') }}</a>
<a href="/inbox{{ suffix }}" id="inbox-home">{{ t('inbox.title') }}</a>
<span class="lang-switch">{% if lang == 'en' %}<a href="?">{{ t('lang.zh') }}</a>{% else %}
<a href="?lang=en">{{ t('lang.en') }}</a>{% endif %}</span></header>
<p class="synthetic">{{ t('inbox.synthetic') }}</p>
"""
TAIL = "</main></body></html>"

#: One action button (a small form): kind, item, version and the action, CSRF-protected.
_ACTION = """{% macro act(item, action, note=False, back='/inbox') %}
<form method="post" action="/inbox/act" class="act act-{{ action }}">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<input type="hidden" name="kind" value="{{ item.kind }}">
<input type="hidden" name="item" value="{{ item.item_id }}">
<input type="hidden" name="version" value="{{ item.version }}">
<input type="hidden" name="action" value="{{ action }}">
<input type="hidden" name="back" value="{{ back }}">
<input type="hidden" name="lang" value="{{ lang }}">
{% if note %}<input name="note" maxlength="2000" placeholder="{{
 t('inbox.reason') if action == 'dismiss' else t('inbox.note') }}"
 aria-label="{{ t('inbox.note') }}">{% endif %}
<button type="submit" id="{{ action }}-{{ item.kind }}-{{ item.item_id }}">{{
 t('inbox.action.' + action) }}</button></form>{% endmacro %}
{% macro card(item, back='/inbox', link=True) %}
<li class="item level-{{ item.level }}{% if item.overdue(box_now) %} overdue{% endif %}"
 id="item-{{ item.kind }}-{{ item.item_id }}">
<div class="item-top"><span class="chip">{{ t('inbox.kind.' + item.level) }}</span>
<span class="status">{{ t('inbox.status.' + item.status) }}{% if item.kind == 'warning' %} ·
{{ t('inbox.visited') if item.visited_at else t('inbox.not_visited') }}{% endif %}</span></div>
<div class="who">{{ t('inbox.household', id=item.household_id, village=item.village) }}</div>
{% if item.reasons_zh %}<ul class="reasons">{% for r in (item.reasons_en if lang == 'en'
 else item.reasons_zh) %}<li>{{ r }}</li>{% endfor %}</ul>{% endif %}
{% if item.policy_code %}<div class="policy">{{ item.policy_en if lang == 'en'
 else item.policy_zh }} ({{ item.policy_code }})</div>{% endif %}
{% if item.body %}<blockquote class="request-text">{{
 t('door.public.category.' + item.category) if item.category else '' }}: {{ item.body
 }}</blockquote>
{% endif %}
<div class="deadline">{{ t('inbox.due') }} {{ when(item.due_at) }}
<time class="countdown" datetime="{{ iso(item.due_at) }}" data-overdue="{{ t('inbox.overdue') }}"
 data-left="{{ t('inbox.left') }}">{% if item.overdue(box_now) %}{{ t('inbox.overdue') }}{% endif %}
</time></div>
<div class="actions">
{% if item.status in ('raised', 'open') %}{{ act(item, 'acknowledge', back=back) }}{% endif %}
{% if item.kind == 'warning' and item.status == 'acknowledged' %}{{ act(item, 'verify', back=back)
 }}{% endif %}
{% if item.status != 'raised' and item.status != 'open' %}{{ act(item, 'resolve', True, back)
 }}{% endif %}
{{ act(item, 'dismiss', True, back) }}
{% if link %}<a class="button" href="/inbox/household/{{ item.household_id }}{{ suffix }}"
 id="open-{{ item.household_id }}">{{ t('inbox.open_household') }}</a>{% endif %}
</div></li>{% endmacro %}"""

INBOX_PAGE = (
    HEAD
    + _ACTION
    + """{% set box_now = box.now %}
<h1>{{ t('inbox.title') }} <span class="count" id="inbox-count">{{ items | length }}</span></h1>
{% if area_actor %}<p><a href="/inbox/team{{ suffix }}" id="team-link">{{ t('inbox.team_link')
 }}</a></p>{% endif %}
{% if done %}<p class="done" role="status">{{ t('inbox.done') }}</p>{% endif %}
{% if box.actor is none %}<p class="note">{{ t('inbox.no_actor') }}</p>{% endif %}
{% if box.truncated %}<p class="note">{{ t('inbox.truncated', n=max_items) }}</p>{% endif %}
<ol class="items" id="inbox-items">{% for item in items %}{{ card(item) }}
{% else %}<li class="none">{{ t('inbox.none') }}</li>{% endfor %}</ol>
"""
    + TAIL
)

HOUSEHOLD_PAGE = (
    HEAD
    + _ACTION
    + """{% set box_now = sheet.now %}{% set here = '/inbox/household/' + sheet.head.household_id %}
<h1>{{ t('sheet.title', id=sheet.head.household_id) }}</h1>
<p class="note">{{ sheet.head.village }} · {{ t('sheet.official',
 name=sheet.head.official_name or '—') }}</p>
{% if done %}<p class="done" role="status">{{ t('inbox.done') }}</p>{% endif %}
<h2>{{ t('sheet.items') }}</h2>
<ol class="items">{% for item in items %}{{ card(item, here, False) }}
{% else %}<li class="none">{{ t('inbox.none') }}</li>{% endfor %}</ol>
<h2>{{ t('sheet.visit') }}</h2>
<form method="post" action="{{ here }}/visit{{ suffix }}" id="visit-form" class="stack"
 enctype="multipart/form-data">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<input type="hidden" name="lang" value="{{ lang }}">
<input type="hidden" name="lat" id="visit-lat"><input type="hidden" name="lon" id="visit-lon">
<label for="visit-note">{{ t('sheet.visit_note') }}</label>
<textarea id="visit-note" name="note" maxlength="2000" required rows="3"></textarea>
<button type="button" id="locate" data-done="{{ t('sheet.located') }}">{{ t('sheet.locate')
 }}</button>
<label for="visit-photo">{{ t('sheet.photos', n=photo_max) }}</label>
<input type="file" id="visit-photo" name="photo" accept="image/jpeg,image/png" multiple
 capture="environment">
<button type="submit" id="visit-submit">{{ t('sheet.visit_submit') }}</button></form>
<h3>{{ t('sheet.visits') }}</h3><ul class="visits">{% for v in sheet.visits %}
<li>{{ when(v.visited_at) }} · {{ v.note }}{% if v.distance_m is not none %} ·
{{ t('sheet.distance', m=v.distance_m | int) }}{% endif %}
{% if v.photo_ids %}<div class="visit-photos">{% for p in v.photo_ids %}
<a href="/inbox/photo/{{ p }}"><img src="/inbox/photo/{{ p }}" loading="lazy" id="photo-{{ p }}"
 alt="{{ t('sheet.photo_alt', n=loop.index, when=when(v.visited_at)) }}"></a>{% endfor %}</div>
{% endif %}</li>{% endfor %}</ul>
<h2>{{ t('sheet.plan') }}</h2>
<ul class="plan" id="plan-items">{% for p in sheet.plan %}
<li id="plan-{{ p.item_id }}"><strong>{{ measures[p.measure].name(lang) if p.measure in measures
 else p.measure }}</strong> · {{ p.owner }} · {{ p.start_date }} → {{ p.due_date }} ·
{{ t('sheet.plan_status.' + p.status) }}
{% if p.dropped_reason %} ({{ p.dropped_reason }}){% endif %}
<form method="post" action="/inbox/plan/{{ p.item_id }}" class="inline">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<input type="hidden" name="version" value="{{ p.version }}">
<input type="hidden" name="back" value="{{ here }}">
<input type="hidden" name="lang" value="{{ lang }}">
<select name="status" aria-label="{{ t('sheet.set_status') }}">{% for s in statuses %}
<option value="{{ s }}"{% if s == p.status %} selected{% endif %}>{{ t('sheet.plan_status.' + s)
 }}</option>{% endfor %}</select>
<input name="reason" maxlength="500" placeholder="{{ t('inbox.reason') }}">
<button type="submit">{{ t('sheet.set_status') }}</button></form></li>
{% else %}<li class="none">{{ t('sheet.plan_none') }}</li>{% endfor %}</ul>
<form method="post" action="{{ here }}/plan" id="plan-form" class="stack">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<input type="hidden" name="lang" value="{{ lang }}">
{% for item in items if item.kind == 'warning' %}{% if loop.first %}
<input type="hidden" name="warning" value="{{ item.item_id }}">{% endif %}{% endfor %}
<label for="plan-measure">{{ t('sheet.measure') }}</label>
<select id="plan-measure" name="measure">{% for code, m in measures.items() %}
<option value="{{ code }}">{{ m.name(lang) }}</option>{% endfor %}</select>
<label for="plan-owner">{{ t('sheet.owner') }}</label>
<input id="plan-owner" name="owner" maxlength="100" required>
<label for="plan-start">{{ t('sheet.start') }}</label>
<input id="plan-start" name="start" type="date" value="{{ today }}" required>
<label for="plan-due">{{ t('sheet.due') }}</label>
<input id="plan-due" name="due" type="date" value="{{ today }}" required>
<button type="submit" id="plan-submit">{{ t('sheet.add_measure') }}</button></form>
"""
    + TAIL
)

MESSAGE_PAGE = (
    HEAD
    + """<h1>{{ t('inbox.title') }}</h1>
<p class="error" role="alert" id="inbox-message">{{ message }}</p>
<p><a class="button" href="{{ back }}{{ suffix }}" id="inbox-reload">{{ t('inbox.reload') }}</a></p>
"""
    + TAIL
)
