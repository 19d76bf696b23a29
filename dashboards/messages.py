"""The message catalog: every UI label in zh-CN (default) and English, from ``messages.yaml``."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

import yaml

from core.errors import AuditWriteFailed, DataSourceError, OneMapError, OutOfScope, UnknownArea
from dashboards.viewer import CsrfRejected, DoorCodeRefused, NotLoggedIn, NotPermitted
from layers.heatmap import UnknownTile
from layers.portrait import UnknownHousehold

#: The languages of the UI; the first is the default.
LANGS: tuple[str, ...] = ("zh", "en")
DEFAULT_LANG = LANGS[0]
#: The ``lang`` attribute of the page for each UI language.
HTML_LANG = {"zh": "zh-CN", "en": "en"}


@cache
def catalog() -> dict[str, dict[str, str]]:
    """Every message id with its texts per language (read once from the packaged YAML).

    ``messages.yaml`` holds the map's labels; each page adds its own ``messages/<page>.yaml``.
    A message id defined twice is an error, not a silent override.
    """
    root = files("dashboards")
    sources = [root.joinpath("messages.yaml")]
    sources += sorted(
        (entry for entry in root.joinpath("messages").iterdir() if entry.name.endswith(".yaml")),
        key=lambda entry: entry.name,
    )
    merged: dict[str, dict[str, str]] = {}
    for source in sources:
        loaded: dict[str, dict[str, Any]] = yaml.safe_load(source.read_text(encoding="utf-8"))
        for key, texts in (loaded or {}).items():
            if str(key) in merged:
                raise ValueError(f"message {key!r} is defined twice (again in {source.name})")
            merged[str(key)] = {lang: str(v) for lang, v in texts.items()}
    return merged


def normalise_lang(lang: str | None) -> str:
    """A supported language code (anything else means the default, Chinese)."""
    return lang if lang in LANGS else DEFAULT_LANG


def t(key: str, lang: str = DEFAULT_LANG, **values: Any) -> str:
    """Return the message ``key`` in ``lang`` with ``{name}`` placeholders filled from ``values``.

    Falls back to Chinese, then to the key itself, so a missing text shows up instead of failing.
    """
    entry = catalog().get(key)
    if entry is None:
        return key
    text = entry.get(normalise_lang(lang)) or entry[DEFAULT_LANG]
    return text.format(**values) if values else text


def value_label(kind: str, value: Any, lang: str = DEFAULT_LANG) -> str:
    """Translate a data enumeration stored in Chinese (relation, sex, status…); else the value."""
    if value is None:
        return "—"
    key = f"value.{kind}.{value}"
    return t(key, lang) if key in catalog() else str(value)


#: The message a person sees for each error class; most specific class first.
ERROR_MESSAGES: tuple[tuple[type[OneMapError], str], ...] = (
    (NotLoggedIn, "error.login_required"),
    (CsrfRejected, "error.csrf"),
    (DoorCodeRefused, "error.door_refused"),
    (NotPermitted, "error.not_permitted"),
    (AuditWriteFailed, "error.audit_failed"),
    (UnknownHousehold, "error.unknown_household"),
    (UnknownTile, "error.no_tile"),
    (UnknownArea, "error.unknown_area"),
    (OutOfScope, "error.out_of_scope"),
    (DataSourceError, "error.bad_data"),
    (OneMapError, "error.generic"),
)


def error_message(error: OneMapError, lang: str = DEFAULT_LANG) -> str:
    """The user-facing text of an error, in ``lang`` (the logged detail stays in ``str(error)``)."""
    for cls, key in ERROR_MESSAGES:
        if isinstance(error, cls):
            return t(key, lang)
    return t("error.generic", lang)
