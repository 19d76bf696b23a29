"""Plain HTML pages beside the map: the login form. Jinja autoescapes every value."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import render_template_string

from dashboards.messages import HTML_LANG, LANGS, t

_LOGIN_PAGE = """<!doctype html>
<html lang="{{ html_lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ t('login.title') }} · {{ t('app.title') }}</title>
<link rel="stylesheet" href="/assets/onemap.css"></head>
<body><main class="login">
<nav class="lang-switch" aria-label="{{ t('lang.label') }}">{% for code, label, href in langs %}
{% if href %}<a class="lang" id="lang-{{ code }}" href="{{ href }}">{{ label }}</a>
{% else %}<span class="lang current" id="lang-{{ code }}">{{ label }}</span>{% endif %}
{% if not loop.last %}<span class="sep">|</span>{% endif %}{% endfor %}</nav>
<h1>{{ t('app.title') }}</h1>
<p class="synthetic">{{ t('app.synthetic') }}</p>
<h2>{{ t('login.title') }}</h2>
{% if message %}<p class="error" id="login-message" role="alert">{{ message }}</p>{% endif %}
<form method="post" action="/login" id="login-form">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<input type="hidden" name="next" value="{{ target }}">
<input type="hidden" name="lang" value="{{ lang }}">
<label for="username">{{ t('login.username') }}</label>
<input id="username" name="username" autocomplete="username" value="{{ username }}" required
 autofocus>
<label for="password">{{ t('login.password') }}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" id="login-submit">{{ t('login.submit') }}</button>
</form>
<p class="hint">{{ t('login.hint') }}</p>
</main></body></html>"""


def lang_links(lang: str, query: dict[str, str]) -> list[tuple[str, str, str | None]]:
    """(code, label, href or None for the current language) keeping the rest of ``query``."""
    links: list[tuple[str, str, str | None]] = []
    for code in LANGS:
        params = {k: v for k, v in query.items() if k != "lang"}
        if code != LANGS[0]:
            params["lang"] = code
        links.append(
            (code, t(f"lang.{code}", lang), None if code == lang else "?" + urlencode(params))
        )
    return links


def login_page(
    lang: str, *, target: str, csrf: str, username: str = "", message: str | None = None
) -> str:
    """The login form, coming back to ``target`` after a right password."""
    return render_template_string(
        _LOGIN_PAGE,
        t=lambda key, **values: t(key, lang, **values),
        html_lang=HTML_LANG[lang],
        langs=lang_links(lang, {"next": target}),
        lang=lang,
        target=target,
        csrf=csrf,
        username=username,
        message=message,
    )
