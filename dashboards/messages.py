"""The message catalog: every UI label in zh-CN (default) and English, from ``messages.yaml``.

The message of each error class is chosen in ``dashboards/errors.py`` (with its HTTP status).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

import yaml

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
