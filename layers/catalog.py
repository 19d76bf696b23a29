"""The layer catalog: every thematic layer declared once (layers/layers.yaml), looked up by name.

Exports, vector tiles, the OGC API and the map's layer switcher all read it: a layer's query,
fields (with zh/en labels and units), style (classes, colours, legend) and privacy rule.
"""

from __future__ import annotations

import math
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from core.errors import UnknownArea

Language = Literal["zh", "en"]


class UnknownLayer(UnknownArea):
    """No layer of that name in the catalog."""

    user_msg = "Unknown layer."


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Text(_Frozen):
    """A label in both UI languages."""

    zh: str
    en: str

    def in_(self, language: Language) -> str:
        """The label in ``language``."""
        return self.zh if language == "zh" else self.en


class LayerField(_Frozen):
    """One attribute of a layer."""

    name: str
    type: Literal["text", "int", "real", "count"]
    zh: str
    en: str
    unit: str = ""

    @property
    def is_count(self) -> bool:
        """Counts of households are suppressed below 5 for roles without portrait rights."""
        return self.type == "count"


class StyleClass(_Frozen):
    """One legend entry: a category value, or the upper bound of a graduated class."""

    value: str | float
    colour: str
    zh: str
    en: str
    key: str | None = None

    def label(self, language: Language) -> str:
        """The legend text in ``language``."""
        return self.zh if language == "zh" else self.en


class Style(_Frozen):
    """How a layer is drawn."""

    kind: Literal["categorical", "graduated", "single"]
    column: str
    classes: tuple[StyleClass, ...]
    no_data: str = "#d9d9d9"

    def colour_of(self, value: Any) -> str:
        """The colour a value is drawn in (``no_data`` when it falls in no class)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            value = ""
        if self.kind == "categorical":
            for entry in self.classes:
                if str(entry.value) == str(value):
                    return entry.colour
            return self.no_data
        if isinstance(value, str):
            return self.no_data  # a suppressed "<5" or no value
        for entry in self.classes:
            if float(value) <= float(entry.value):
                return entry.colour
        return self.classes[-1].colour


class Layer(_Frozen):
    """One thematic layer."""

    key: str
    title: Text
    geometry: Literal["point", "polygon", "raster"]
    query: str
    privacy: Literal["aggregate", "households", "raster"]
    fields: tuple[LayerField, ...]
    style: Style
    composition: bool = False
    warned_only: bool = False

    @property
    def all_fields(self) -> tuple[LayerField, ...]:
        """The declared fields plus, for a composition layer, one count per category."""
        if not self.composition:
            return self.fields
        extra = tuple(
            LayerField(name=f"c_{c.key}", type="count", zh=c.zh, en=c.en, unit="户")
            for c in self.style.classes
        )
        return self.fields + extra

    @property
    def count_fields(self) -> tuple[str, ...]:
        """Names of the fields that count households."""
        return tuple(f.name for f in self.all_fields if f.is_count)

    def legend(self, language: Language) -> list[tuple[str, str]]:
        """(colour, label) rows of the legend in ``language``."""
        return [(c.colour, c.label(language)) for c in self.style.classes]


class Catalog(_Frozen):
    """All layers by key."""

    layers: dict[str, Layer] = Field(default_factory=dict)

    def get(self, key: str) -> Layer:
        """The layer ``key``.

        Raises
        ------
        UnknownLayer
            When the catalog has no such layer.
        """
        try:
            return self.layers[key]
        except KeyError:
            known = ", ".join(sorted(self.layers))
            raise UnknownLayer(f"no layer {key!r} (known: {known})") from None

    def vector_keys(self) -> tuple[str, ...]:
        """The layers with vector geometry (the OGC API's collections, the tiles)."""
        return tuple(k for k, v in self.layers.items() if v.geometry != "raster")


@cache
def catalog() -> Catalog:
    """The catalog read from ``layers/layers.yaml`` (once per process)."""
    text = (resources.files("layers") / "layers.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    layers = {key: Layer(key=key, **spec) for key, spec in raw["layers"].items()}
    return Catalog(layers=layers)


def get_layer(key: str) -> Layer:
    """Shortcut for ``catalog().get(key)``."""
    return catalog().get(key)


#: Poverty causes in catalog order: zh code (as civil affairs sends it) → English key.
def cause_keys() -> dict[str, str]:
    """The poverty-cause classes as zh code → English key (from the poverty_causes layer)."""
    return {str(c.value): str(c.key) for c in get_layer("poverty_causes").style.classes}


def cause_label(value: str | None, language: str) -> str:
    """A poverty cause as a person reads it (zh code as sent, or its English name)."""
    if not value:
        return "—"
    for entry in get_layer("poverty_causes").style.classes:
        if entry.value == value:
            return entry.zh if language == "zh" else entry.en
    return value
