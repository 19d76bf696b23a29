"""Plain HTML pages beside the map: their common frame, the login form and the refusal page.

The door page and the audit page are built on :func:`page_template` and :func:`render_page` too.
Jinja autoescapes every value.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import render_template_string

from dashboards.messages import HTML_LANG, LANGS, t


def page_template(title: str, container: str, body: str) -> str:
    """The Jinja template of a plain page: head, ``container`` opened, language switch, ``body``.

    ``title`` is Jinja (``{{ t('…') }}``); ``body`` closes the container and the document.
    """
    return (
        '<!doctype html>\n<html lang="{{ html_lang }}"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n"
        '<link rel="stylesheet" href="/assets/onemap.css"></head>\n'
        f"<body>{container}\n"
        '<nav class="lang-switch" aria-label="{{ t(\'lang.label\') }}">'
        "{% for code, label, href in langs %}\n"
        '{% if href %}<a class="lang" id="lang-{{ code }}" href="{{ href }}">{{ label }}</a>\n'
        '{% else %}<span class="lang current" id="lang-{{ code }}">{{ label }}</span>{% endif %}\n'
        '{% if not loop.last %}<span class="sep">|</span>{% endif %}{% endfor %}</nav>\n'
    ) + body


_LOGIN_PAGE = page_template(
    "{{ t('login.title') }} · {{ t('app.title') }}",
    '<main class="login">',
    """<h1>{{ t('app.title') }}</h1>
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
</main></body></html>""",
)


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


def render_page(template: str, lang: str, query: dict[str, str], **context: Any) -> str:
    """Render a :func:`page_template` in ``lang``; the language links keep ``query``."""
    return render_template_string(
        template,
        t=lambda key, **values: t(key, lang, **values),
        html_lang=HTML_LANG[lang],
        langs=lang_links(lang, query),
        lang=lang,
        **context,
    )


def login_page(
    lang: str, *, target: str, csrf: str, username: str = "", message: str | None = None
) -> str:
    """The login form, coming back to ``target`` after a right password."""
    return render_page(
        _LOGIN_PAGE,
        lang,
        {"next": target},
        target=target,
        csrf=csrf,
        username=username,
        message=message,
    )


_ERROR_PAGE = page_template(
    "{{ title }} · {{ t('app.title') }}",
    '<main class="forbidden" id="error-page">',
    """<h1>{{ title }}</h1>
<p class="error" id="error-message" role="alert">{{ message }}</p>
<p><a href="/{{ '?lang=en' if lang == 'en' else '' }}" id="back-to-map">
{{ t('forbidden.back') }}</a></p>
</main></body></html>""",
)


def error_page(lang: str, message: str, *, status: int, query: dict[str, str]) -> str:
    """The page a page request gets when it is refused (403) or fails, in ``lang``."""
    key = "forbidden.title" if status == 403 else "page.error_title"
    return render_page(_ERROR_PAGE, lang, query, title=t(key, lang), message=message)
