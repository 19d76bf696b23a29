"""The door-code page (/h/<token>): a household's portrait as plain HTML, in zh-CN or English."""

from __future__ import annotations

from typing import Any

from dashboards.messages import t, value_label
from dashboards.pages import page_template, render_page
from dashboards.portrait import localised
from dashboards.state import View
from layers.portrait import Portrait

# Jinja autoescapes: names and reasons are text, never markup. Every label comes from t().
_DOOR_PAGE = page_template(
    "{{ title }}",
    '<div class="door">',
    """<h1>{{ title }}</h1>
{% if note %}<p class="note">{{ note }}</p>{% endif %}
{% if members is not none %}
<h2>{{ t('portrait.section.members') }}</h2><ul>{% for m in members %}
<li>{{ m }}</li>{% endfor %}</ul>
<h2>{{ t('portrait.section.benefits') }}</h2><ul>{% for b in benefits %}
<li>{{ b }}</li>{% endfor %}</ul>
<h2>{{ t('portrait.section.warnings') }}</h2><ul>{% for w in warnings %}
<li>{{ w }}</li>{% else %}<li>{{ t('portrait.no_warnings') }}</li>{% endfor %}</ul>
<p><a id="view-on-map" href="{{ map_url }}">{{ t('door.view_on_map') }}</a></p>
{% endif %}
{% if login_href %}<p><a id="door-login" class="button" href="{{ login_href }}">
{{ t('door.login_link') }}</a></p>{% endif %}
</div></body></html>""",
)


def _lines(portrait: Portrait, lang: str) -> dict[str, list[str]]:
    members = [
        t(
            "door.member",
            lang,
            name=m["name"],
            relation=value_label("relation", m["relation"], lang),
            age=m["age"],
            id=m["id_masked"],
        )
        for m in portrait.members
    ]
    benefits = [
        t(
            "benefit.line",
            lang,
            name=localised(b, "name", lang),
            code=b["policy_code"],
            state=t(f"benefit.state.{b['state']}", lang),
        )
        for b in portrait.benefits
    ]
    warnings = [
        t(
            "door.warning",
            lang,
            level=t(f"warning.level.{w['level']}", lang),
            status=t(f"warning.status.{w['status']}", lang),
            reasons=t("door.reason_sep", lang).join(localised(w, "reasons", lang)),
        )
        for w in portrait.warnings
    ]
    return {"members": members, "benefits": benefits, "warnings": warnings}


def door_page(portrait: Portrait, lang: str) -> str:
    """The HTML of a household's door-code page."""
    b = portrait.basics
    view = View(area=b["village_code"], lang=lang, household=portrait.household_id)
    return _render(
        lang,
        title=t("door.title", lang, id=portrait.household_id),
        note=t("door.note", lang, county=b["county"], town=b["town"], village=b["village"]),
        map_url=view.url(),
        **_lines(portrait, lang),
    )


def not_found_page(lang: str, message: str, *, refused: bool = False) -> str:
    """The page shown for a malformed door code (or a refused one, with ``refused``)."""
    title = t("door.refused_title" if refused else "door.not_found_title", lang)
    return _render(lang, title=title, note=message, members=None)


def door_login_page(lang: str, login_href: str) -> str:
    """The door page without a login: it asks to log in and shows nothing of the household."""
    return _render(
        lang,
        title=t("door.login_title", lang),
        note=t("door.login_note", lang),
        members=None,
        login_href=login_href,
    )


def _render(lang: str, **context: Any) -> str:
    return render_page(_DOOR_PAGE, lang, {}, **context)
