"""The catalog of help measures (帮扶措施), declared once in ``help_measures.yaml``."""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field


class HelpMeasure(BaseModel):
    """One measure: its code, names and the warning factors it answers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^[a-z_]{2,40}$")
    zh: str
    en: str
    answers: tuple[str, ...] = ()

    def name(self, lang: str) -> str:
        """The measure's name in ``lang`` (zh or en)."""
        return self.en if lang == "en" else self.zh


class _Catalog(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    measures: tuple[HelpMeasure, ...]


@cache
def help_measures() -> dict[str, HelpMeasure]:
    """The measures by code, in declaration order.

    Raises
    ------
    ValueError
        A code declared twice.
    """
    text = (resources.files("analytics") / "help_measures.yaml").read_text("utf-8")
    catalog = _Catalog.model_validate(yaml.safe_load(text))
    codes = [m.code for m in catalog.measures]
    if len(codes) != len(set(codes)):
        raise ValueError("help_measures.yaml declares a measure twice")
    return {m.code: m for m in catalog.measures}
