"""The warning factors, declared once in YAML, and the scoring SQL composed from them.

``analytics/warning_factors.yaml`` holds each factor's tiers (tests and points), its code and
its reasons in zh and en; thresholds and points name :class:`core.settings.WarningSettings`
fields. Columns are checked against an allowlist and composed as ``sql.Identifier``; every
threshold, point, literal, code and template travels as a named parameter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any, Literal

import yaml
from psycopg import sql
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from analytics.benefits import SCHEMA
from analytics.sqlfiles import PUBLISHED, composed
from core.settings import WarningSettings

#: The columns a factor may test or show: the household fields of the rule language and the two
#: ratios derive_warnings.sql computes.
COLUMNS = frozenset(SCHEMA.household) | {"illness_ratio", "school_ratio"}
#: Columns stored as real: thresholds are compared with them at that precision.
REAL_COLUMNS = frozenset({"hazard"})
#: What a factor may name in WarningSettings (thresholds and points; not the levels).
SETTINGS = frozenset(WarningSettings.model_fields) - {"red", "orange", "yellow"}
_OPS = {op: sql.SQL(op) for op in (">=", ">", "<=", "<", "=")}
_CODE = r"^[a-z][a-z_]*$"


def _column(name: str) -> str:
    if name not in COLUMNS:
        raise ValueError(f"unknown column {name!r} (one of {', '.join(sorted(COLUMNS))})")
    return name


def _setting(name: str) -> str:
    if name not in SETTINGS:
        raise ValueError(f"{name!r} is not a threshold or points field of WarningSettings")
    return name


Column = Annotated[str, AfterValidator(_column)]
Setting = Annotated[str, AfterValidator(_setting)]


class Test(BaseModel):
    """One comparison of a column with a setting or a literal value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    column: Column
    op: Literal[">=", ">", "<=", "<", "=", "in"]
    setting: Setting | None = None
    value: bool | str | tuple[str, ...] | None = None
    #: Compare with minus the setting (a fall of at least …).
    negate: bool = False
    #: The setting is per unit of this column (e.g. per household member).
    per: Column | None = None

    @model_validator(mode="after")
    def _one_side(self) -> Test:
        if (self.setting is None) == (self.value is None):
            raise ValueError("a test compares with either a setting or a value")
        if self.value is not None and (self.negate or self.per is not None):
            raise ValueError("negate and per go with a setting")
        if (self.op == "in") != isinstance(self.value, tuple):
            raise ValueError("op 'in' takes a list value, and only it does")
        return self

    def condition(self, name: str) -> tuple[sql.Composable, dict[str, Any]]:
        """The test as SQL; a literal value is the parameter ``name``."""
        column = sql.Identifier(self.column)
        if isinstance(self.value, tuple):  # op "in"
            return sql.SQL("{} = ANY({})").format(column, sql.Placeholder(name)), {
                name: list(self.value)
            }
        if self.setting is None:
            return sql.SQL("{} {} {}").format(column, _OPS[self.op], sql.Placeholder(name)), {
                name: self.value
            }
        threshold: sql.Composable = sql.Placeholder(self.setting)
        if self.column in REAL_COLUMNS:
            threshold = sql.SQL("{}::real").format(threshold)
        if self.negate:
            threshold = sql.SQL("-{}").format(threshold)
        if self.per is not None:
            threshold = sql.SQL("{} * {}").format(threshold, sql.Identifier(self.per))
        return sql.SQL("{} {} {}").format(column, _OPS[self.op], threshold), {}


class Arg(BaseModel):
    """A figure a reason shows: a column, rounded or taken absolute."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    column: Column
    round: int | None = Field(default=None, ge=0, le=10)
    abs: bool = False

    def expression(self, name: str) -> tuple[sql.Composable, dict[str, Any]]:
        """The figure as SQL; the digits of a rounding are the parameter ``name``."""
        value: sql.Composable = sql.Identifier(self.column)
        if self.abs:
            value = sql.SQL("abs({})").format(value)
        if self.round is None:
            return value, {}
        rounded = sql.SQL("round(CAST({} AS numeric), {}::integer)")
        return rounded.format(value, sql.Placeholder(name)), {name: self.round}


class Reason(BaseModel):
    """Why a factor holds, in words: format() templates in zh and en and their figures."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)
    args: tuple[Arg, ...] = ()

    @model_validator(mode="after")
    def _placeholders(self) -> Reason:
        for text in (self.zh, self.en):
            if text.replace("%%", "").count("%s") != len(self.args):
                raise ValueError(f"{text!r} needs one %s per arg ({len(self.args)})")
        return self


class Tier(BaseModel):
    """Points given when all tests hold (and no earlier tier did)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    points: Setting
    tests: tuple[Test, ...] = Field(min_length=1)
    reason: Reason | None = None


class Factor(BaseModel):
    """One warning factor: its tiers and its reason."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=_CODE)
    tiers: tuple[Tier, ...] = Field(min_length=1)
    reason: Reason | None = None

    @model_validator(mode="after")
    def _reasons(self) -> Factor:
        if any(tier.reason is None for tier in self.tiers) and self.reason is None:
            raise ValueError(f"factor {self.code!r}: every tier needs a reason")
        return self

    def reason_of(self, tier: int) -> Reason:
        """The reason given when ``tier`` holds: its own, else the factor's."""
        reason = self.tiers[tier].reason or self.reason
        assert reason is not None  # checked on load
        return reason

    @property
    def points_column(self) -> sql.Identifier:
        """The column holding the factor's points in the scoring query."""
        return sql.Identifier(f"points_{self.code}")


class Registry(BaseModel):
    """All warning factors, in the order reasons are listed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    factors: tuple[Factor, ...] = Field(min_length=1)

    @field_validator("factors")
    @classmethod
    def _unique(cls, value: tuple[Factor, ...]) -> tuple[Factor, ...]:
        codes = [f.code for f in value]
        if len(set(codes)) != len(codes):
            raise ValueError("factor codes must be unique")
        return value


@lru_cache(maxsize=1)
def load_factors() -> Registry:
    """The warning factors from ``analytics/warning_factors.yaml``."""
    text = (resources.files("analytics") / "warning_factors.yaml").read_text("utf-8")
    return Registry.model_validate(yaml.safe_load(text))


@dataclass(frozen=True)
class Scoring:
    """The registry's SQL fragments for derive_warnings.sql and the parameters they use."""

    fragments: dict[str, sql.Composable]
    params: dict[str, Any]


def _tier_condition(factor: Factor, n: int, params: dict[str, Any]) -> sql.Composable:
    parts = []
    for i, test in enumerate(factor.tiers[n].tests):
        condition, values = test.condition(f"value_{factor.code}_{n}_{i}")
        parts.append(condition)
        params |= values
    return sql.SQL(" AND ").join(parts)


def _reason(
    reason: Reason, language: Literal["zh", "en"], key: str, params: dict[str, Any]
) -> sql.Composable:
    template = f"{language}_{key}"
    params[template] = reason.zh if language == "zh" else reason.en
    if not reason.args:
        return sql.SQL("{}::text").format(sql.Placeholder(template))
    figures = []
    for i, arg in enumerate(reason.args):
        figure, digits = arg.expression(f"round_{key}_{i}")
        figures.append(figure)
        params |= digits
    return sql.SQL("format({}::text, {})").format(
        sql.Placeholder(template), sql.SQL(", ").join(figures)
    )


def _reasons(
    factor: Factor,
    language: Literal["zh", "en"],
    conditions: list[sql.Composable],
    params: dict[str, Any],
) -> sql.Composable:
    """The factor's reason when it holds: the factor's own, or the reason of the tier that held."""
    if all(tier.reason is None for tier in factor.tiers) and factor.reason is not None:
        said = _reason(factor.reason, language, factor.code, params)
    else:
        by_tier = [
            _reason(factor.reason_of(n), language, f"{factor.code}_{n}", params)
            for n in range(len(factor.tiers))
        ]
        cases = [
            sql.SQL("WHEN {} THEN {}").format(c, r)
            for c, r in zip(conditions[:-1], by_tier[:-1], strict=True)
        ]
        said = sql.SQL("CASE {} ELSE {} END").format(sql.SQL(" ").join(cases), by_tier[-1])
    return sql.SQL("CASE WHEN {} > 0 THEN {} END").format(factor.points_column, said)


def _listed(items: Sequence[sql.Composable]) -> sql.Composable:
    return sql.SQL("array_remove(ARRAY[{}], NULL)").format(sql.SQL(", ").join(items))


@lru_cache(maxsize=1)
def scoring() -> Scoring:
    """The fragments ``points``, ``total``, ``factors``, ``reasons_zh`` and ``reasons_en``.

    ``points`` gives each factor's points column (the first tier that holds, else 0); the
    others are expressions over those columns. Thresholds and points are the WarningSettings
    parameters of the same names; everything else the registry declares is in ``params``.
    """
    params: dict[str, Any] = {}
    points, factors, zh, en = [], [], [], []
    for factor in load_factors().factors:
        conditions = [_tier_condition(factor, n, params) for n in range(len(factor.tiers))]
        whens = [
            sql.SQL("WHEN {} THEN {}").format(c, sql.Placeholder(tier.points))
            for c, tier in zip(conditions, factor.tiers, strict=True)
        ]
        points.append(
            sql.SQL("CASE {} ELSE 0 END AS {}").format(
                sql.SQL(" ").join(whens), factor.points_column
            )
        )
        params[f"factor_{factor.code}"] = factor.code
        factors.append(
            sql.SQL("CASE WHEN {} > 0 THEN {}::text END").format(
                factor.points_column, sql.Placeholder(f"factor_{factor.code}")
            )
        )
        zh.append(_reasons(factor, "zh", conditions, params))
        en.append(_reasons(factor, "en", conditions, params))
    fragments = {
        "points": sql.SQL(",\n        ").join(points),
        "total": sql.SQL(" + ").join(f.points_column for f in load_factors().factors),
        "factors": _listed(factors),
        "reasons_zh": _listed(zh),
        "reasons_en": _listed(en),
    }
    return Scoring(fragments, params)


def warning_statements(tables: Mapping[str, str] = PUBLISHED) -> tuple[sql.Composed, ...]:
    """The statements of derive_warnings.sql with the registry's fragments filled in."""
    return composed("derive_warnings", tables, **scoring().fragments)


def warning_params(
    settings: WarningSettings, month: dt.date, raised_at: dt.datetime
) -> dict[str, Any]:
    """Every parameter of :func:`warning_statements` for ``month`` (its first day)."""
    return {**settings.model_dump(), **scoring().params, "month": month, "raised_at": raised_at}
