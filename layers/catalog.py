"""The layer catalog: palettes, thematic layers and map measures declared once (layers/layers.yaml).

Exports, vector tiles, the OGC API and the map (its choropleth, legends, measure switcher and
download menu) all read it: a layer's query, fields (with zh/en labels and units), style
(classes, colours, legend) and privacy rule; a measure's rollup columns, direction and the
counts it rests on. :mod:`layers.measures` composes the measures' SQL from it.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from core.errors import UnknownArea
from layers.deidentify import PROTECTED_COLUMNS

Language = Literal["zh", "en"]


class UnknownLayer(UnknownArea):
    """No layer of that name in the catalog."""

    user_msg = "Unknown layer."


#: The numeric columns of the ``rollup`` table a measure may read (migrations 0003 and 0010): the
#: allowlist its SQL identifiers are checked against.
ROLLUP_COLUMNS = (
    "households",
    "people",
    "income_median",
    "income_growth_mom",
    "income_growth_yoy",
    "entries",
    "exits",
    "warnings_red",
    "warnings_orange",
    "warnings_yellow",
    "benefit_gaps",
    "benefit_anomalies",
    "housing_assessed",
    "unsafe_housing",
    "water_checked",
    "unsafe_water",
    "visited_30d",
    "response_minutes_median",
    "red_due",
    "red_attained_3h",
    "warned_open",
    "plan_covered",
)


def _one_of(value: str, allowed: Iterable[str], what: str) -> str:
    """``value`` when it is in ``allowed``; else a ValueError naming the closest match."""
    known = tuple(allowed)
    if value in known:
        return value
    close = difflib.get_close_matches(value, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"{what} {value!r} is not allowed{hint}")


def _colour(value: str) -> str:
    if not re.fullmatch(r"#[0-9a-f]{6}", value):
        raise ValueError(f"colour {value!r} is not #rrggbb in lower case")
    return value


Colour = Annotated[str, AfterValidator(_colour)]
RollupColumn = Annotated[str, AfterValidator(lambda v: _one_of(v, ROLLUP_COLUMNS, "column"))]
ProtectedColumn = Annotated[
    str, AfterValidator(lambda v: _one_of(v, PROTECTED_COLUMNS, "protected count"))
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Palettes(_Frozen):
    """Every colour a graduated style uses, declared once."""

    #: Named ramps, light to dark; ``worse`` and ``better`` shade the map's choropleth.
    ramps: dict[str, tuple[Colour, ...]]
    #: An area without a value.
    no_data: Colour
    #: An area whose value is zero, where more is worse (no warnings is not a shade of alarm).
    zero: Colour
    #: An area whose count is shown as "<5" (to roles without portrait rights).
    suppressed: Colour

    @model_validator(mode="after")
    def _has_map_ramps(self) -> Palettes:
        for name in ("worse", "better"):
            if len(self.ramps.get(name, ())) < 2:
                raise ValueError(f"palettes.ramps.{name} needs at least two colours")
        return self

    @property
    def worse(self) -> tuple[str, ...]:
        """The choropleth's ramp where more is worse (warnings, gaps)."""
        return self.ramps["worse"]

    @property
    def better(self) -> tuple[str, ...]:
        """The choropleth's ramp where more is better (income, coverage)."""
        return self.ramps["better"]

    def colours(self) -> set[str]:
        """Every colour of the palettes."""
        return {c for ramp in self.ramps.values() for c in ramp} | {
            self.no_data,
            self.zero,
            self.suppressed,
        }


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
    colour: Colour
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
    #: The ramp (``palettes.ramps``) the classes take their colours from (its darkest ones).
    palette: str | None = None
    #: Filled in from ``palettes.no_data`` when the catalog is read.
    no_data: Colour

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


class MeasureSpec(_Frozen):
    """One map measure as declared: how it is read from the month's ``rollup`` row."""

    key: str
    kind: Literal["ratio", "column"]
    #: kind ``column``: the column shown as it is.
    column: RollupColumn | None = None
    #: kind ``ratio``: ``scale × (sum of numerator) / denominator``.
    numerator: tuple[RollupColumn, ...] = ()
    denominator: RollupColumn | None = None
    scale: float = Field(100.0, gt=0)
    #: True when a higher value is worse (warnings, gaps); colours run the same way.
    higher_is_worse: bool = True
    decimals: int = Field(1, ge=0, le=6)
    #: The value counts households (1-4 are shown as "<5" to roles without portrait rights).
    is_count: bool = False
    #: The protected rollup counts the value is built on: it is withheld wherever one of them is.
    counts: tuple[ProtectedColumn, ...] = Field(min_length=1)
    #: The catalog layer that carries the measure (offered first by the map's download menu).
    layer: str

    @model_validator(mode="after")
    def _columns_fit_the_kind(self) -> MeasureSpec:
        ratio = bool(self.numerator) and self.denominator is not None and self.column is None
        column = self.column is not None and not self.numerator and self.denominator is None
        if self.kind == "ratio" and not ratio:
            raise ValueError(f"measure {self.key}: a ratio has a numerator and a denominator only")
        if self.kind == "column" and not column:
            raise ValueError(f"measure {self.key}: a column measure has a column only")
        return self


def _with_palette(key: str, style: dict[str, Any], palettes: Palettes) -> dict[str, Any]:
    """A raw style with its class colours taken from its ramp and ``no_data`` from the palettes."""
    style = {"no_data": palettes.no_data, **style}
    name = style.get("palette")
    if name is None:
        return style
    ramp = palettes.ramps[_one_of(name, palettes.ramps, f"layer {key}: palette")]
    classes = list(style.get("classes") or ())
    if len(classes) > len(ramp):
        raise ValueError(f"layer {key}: {len(classes)} classes, ramp {name} has {len(ramp)}")
    coloured = []
    for entry, colour in zip(classes, ramp[len(ramp) - len(classes) :], strict=True):
        if "colour" in entry:
            raise ValueError(f"layer {key}: a class of a {name} style takes the ramp's colour")
        coloured.append({**entry, "colour": colour})
    return {**style, "classes": coloured}


class Catalog(_Frozen):
    """The palettes, all layers by key and all map measures by key (in switcher order)."""

    palettes: Palettes
    layers: dict[str, Layer] = Field(default_factory=dict)
    measures: dict[str, MeasureSpec] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_declarations(cls, data: Any) -> Any:
        """Keys from the mapping, colours from the palettes (the YAML as it is written)."""
        if not isinstance(data, dict):
            return data
        palettes = Palettes.model_validate(data.get("palettes"))
        layers = {}
        for key, declared in (data.get("layers") or {}).items():
            spec = {"key": key, **declared} if isinstance(declared, dict) else declared
            if isinstance(spec, dict) and isinstance(spec.get("style"), dict):
                spec["style"] = _with_palette(key, spec["style"], palettes)
            layers[key] = spec
        measures = {
            key: {"key": key, **declared} if isinstance(declared, dict) else declared
            for key, declared in (data.get("measures") or {}).items()
        }
        return {**data, "palettes": palettes, "layers": layers, "measures": measures}

    @model_validator(mode="after")
    def _measures_have_layers(self) -> Catalog:
        for measure in self.measures.values():
            _one_of(measure.layer, self.layers, f"measure {measure.key}: layer")
        return self

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
    return Catalog.model_validate(yaml.safe_load(text))


def get_layer(key: str) -> Layer:
    """Shortcut for ``catalog().get(key)``."""
    return catalog().get(key)


def warning_colours() -> dict[str, str]:
    """Warning level → colour, worst first, ``none`` for no warning.

    They are the households layer's classes: the map's points and clusters, the statistics'
    lines, the field page and the offline village map all draw warning levels in them.
    """
    return {str(c.value) or "none": c.colour for c in get_layer("households").style.classes}


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
