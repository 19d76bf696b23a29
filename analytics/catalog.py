"""The policy catalog and the portrait fields, declared in YAML and checked on load."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

Category = Literal[
    "social_assistance",
    "medical",
    "education",
    "housing_water",
    "disability",
    "elderly",
    "employment",
    "temporary",
    "festival",
]


class Policy(BaseModel):
    """One benefit: who is eligible, how much is due, who pays."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^P[0-9]{3}$")
    name_zh: str
    name_en: str
    category: Category
    department: str
    eligibility: str = Field(min_length=1, max_length=2000)
    amount: str = Field(min_length=1, max_length=2000)
    paid_months: tuple[int, ...] | None = None
    discretionary: bool = False

    @field_validator("paid_months")
    @classmethod
    def _months(cls, value: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if value is not None and not all(1 <= m <= 12 for m in value):
            raise ValueError("paid_months must be months 1–12")
        return value

    def counts_gap(self, month: int) -> bool:
        """True if a due but unpaid benefit is a gap in this calendar month."""
        return not self.discretionary and (self.paid_months is None or month in self.paid_months)


class Catalog(BaseModel):
    """The whole policy catalog."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    standard: float
    policies: tuple[Policy, ...]

    @field_validator("policies")
    @classmethod
    def _unique(cls, value: tuple[Policy, ...]) -> tuple[Policy, ...]:
        codes = [p.code for p in value]
        if len(set(codes)) != len(codes):
            raise ValueError("policy codes must be unique")
        return value


class PortraitField(BaseModel):
    """One of the 61 base fields of a household's portrait."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    group: str
    name_zh: str
    name_en: str
    source: str
    requires: str | None = None

    @property
    def automatic(self) -> bool:
        """Filled from a department feed (not typed in by hand)."""
        return self.source != "manual"


def _text(name: str) -> str:
    return (resources.files("analytics") / name).read_text("utf-8")


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """The policy catalog from ``analytics/policies.yaml``."""
    return Catalog.model_validate(yaml.safe_load(_text("policies.yaml")))


def catalog_hash() -> str:
    """A hash of the catalog text: derived data keys on it."""
    return hashlib.sha256(_text("policies.yaml").encode()).hexdigest()[:16]


@lru_cache(maxsize=1)
def portrait_fields() -> tuple[PortraitField, ...]:
    """The 61 portrait fields from ``analytics/portrait.yaml``."""
    fields = tuple(
        PortraitField.model_validate(f) for f in yaml.safe_load(_text("portrait.yaml"))["fields"]
    )
    if len(fields) != 61 or len({f.key for f in fields}) != 61:
        raise ValueError("the portrait has exactly 61 distinct fields")
    return fields
