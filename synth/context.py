"""A month of the synthetic population: who is present, and the draws several outputs share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import numpy as np
import shapely
from numpy.typing import NDArray

from geo.crs import METRES_PER_DEGREE
from synth.population import (
    FloatArray,
    IntArray,
    Population,
    StrArray,
    income_at,
    month_index,
    rng_for,
)

T = TypeVar("T")
NDArrayDate = NDArray[np.datetime64]
# Term fees (yuan) by stage: compulsory schooling is nearly free, kindergarten and university not.
_FEE_RANGE = np.array([[1200, 3000], [0, 300], [0, 400], [1000, 2500], [0, 1200], [2500, 6500]])


@dataclass
class MonthContext:
    """Everything a feed needs for one month: the population and who is present."""

    pop: Population
    month: str
    index: int
    households: IntArray  # indices of households present this month
    people: IntArray  # indices of their members
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def create(cls, pop: Population, month: str) -> MonthContext:
        """Build the context of ``month`` (``YYYY-MM``)."""
        index = month_index(month)
        households = np.flatnonzero(pop.active(index))
        people = np.flatnonzero(pop.active(index)[pop.people.household])
        return cls(pop, month, index, households, people)

    @property
    def year(self) -> int:
        """Calendar year."""
        return int(self.month[:4])

    @property
    def mon(self) -> int:
        """Calendar month, 1-12."""
        return int(self.month[5:])

    @property
    def start(self) -> np.datetime64:
        """First day of the month."""
        return np.datetime64(self.month, "D")

    def rng(self, purpose: str) -> np.random.Generator:
        """Random stream for ``purpose`` in this month."""
        return rng_for(self.pop.seed, purpose, self.index)

    @property
    def n_days(self) -> int:
        """Days in the month."""
        end = (np.datetime64(self.month, "M") + 1).astype("datetime64[D]")
        return int((end - self.start).astype(np.int64))

    def days(self, rng: np.random.Generator, n: int) -> NDArrayDate:
        """Uniform random days within the month."""
        return self.start + rng.integers(0, self.n_days, n).astype("timedelta64[D]")

    def memo(self, key: str, build: Callable[[], T]) -> T:
        """Compute once per context; feeds that share draws (claims, students) stay consistent."""
        if key not in self._memo:
            self._memo[key] = build()
        return cast(T, self._memo[key])

    def age(self, persons: IntArray, at: np.datetime64 | None = None) -> IntArray:
        """Age in whole years on ``at`` (default: first day of the month)."""
        when = self.start if at is None else at
        days = (when - self.pop.people.birth[persons]).astype(np.int64)
        return np.floor(days / 365.2425).astype(np.int64)

    def income(self) -> FloatArray:
        """Per-capita income of every household this month (drawn once)."""
        return self.memo("income", lambda: income_at(self.pop, self.index))

    def claims(self) -> dict[str, np.ndarray]:
        """The month's medical claims (drawn once: the claims feed and the ledger agree)."""
        return self.memo("claims", lambda: _claims(self))

    def students(self) -> dict[str, np.ndarray]:
        """Students enrolled this term, with fees and aid (drawn once)."""
        return self.memo("students", lambda: _students(self))

    def events(self) -> dict[str, Any]:
        """The month's disaster events (drawn once)."""
        return self.memo("events", lambda: _events(self))

    def appraised(self) -> IntArray:
        """Households whose house is appraised this month: yearly, and on entry."""
        hh, act = self.pop.households, self.households
        return act[(hh.appraisal_month[act] == self.mon) | (hh.entry[act] == self.index)]


def iso_days(days: NDArrayDate) -> StrArray:
    """Days as ISO dates."""
    return np.datetime_as_string(days, unit="D")


def rounded(values: NDArray[np.floating[Any]], digits: int) -> FloatArray:
    """Values rounded to ``digits`` decimals, as float64."""
    return np.round(values, digits).astype(np.float64, copy=False)


def cents(values: FloatArray) -> FloatArray:
    """Amounts rounded to the cent."""
    return rounded(values, 2)


def labels(names: tuple[str, ...], codes: IntArray) -> StrArray:
    """The label of each code."""
    return np.array(names)[codes]


def _claims(ctx: MonthContext) -> dict[str, np.ndarray]:
    """Medical claims of the month: chronic and serious illness claim often, others rarely."""
    rng = ctx.rng("medical")
    pp, persons = ctx.pop.people, ctx.people
    n = persons.size
    old = ctx.age(persons) >= 70
    masks = (
        pp.chronic[persons] & (rng.random(n) < 0.35),
        pp.serious[persons] & (rng.random(n) < 0.5),
        rng.random(n) < np.where(old, 0.03, 0.012),
        rng.random(n) < 0.05,
    )
    medians = (350.0, 15_000.0, 7_000.0, 120.0)
    rates = ((0.6, 0.8), (0.7, 0.9), (0.6, 0.85), (0.3, 0.6))
    person = np.concatenate([persons[m] for m in masks])
    category = np.concatenate([np.full(int(m.sum()), i) for i, m in enumerate(masks)])
    total = np.round(np.array(medians)[category] * rng.lognormal(0.0, 0.6, person.size) * 100)
    low, high = np.array(rates).T
    reimbursed = np.floor(total * rng.uniform(low[category], high[category]))
    day = ctx.days(rng, person.size)
    order = np.lexsort((person, day))
    return {
        "person": person[order],
        "category": category[order],
        "day": day[order],
        "total": total[order] / 100,
        "reimbursed": reimbursed[order] / 100,
        "out_of_pocket": (total - reimbursed)[order] / 100,
    }


def _term(ctx: MonthContext) -> tuple[int, int]:
    """School year (starting September) and term (1 autumn, 2 spring) the month belongs to."""
    if ctx.mon >= 9:
        return ctx.year, 1
    return ctx.year - 1, 2 if ctx.mon >= 2 else 1


def _students(ctx: MonthContext) -> dict[str, np.ndarray]:
    """Enrolled students with this term's fees and aid (drawn per term, so stable within it)."""
    school_year, term = _term(ctx)
    pp, persons = ctx.pop.people, ctx.people
    age = ctx.age(persons, np.datetime64(f"{school_year}-09-01"))
    draw = pp.school_draw[persons]
    stage = np.full(persons.size, -1)
    stage[(age >= 3) & (age <= 5) & (draw < 0.85)] = 0
    stage[(age >= 6) & (age <= 11) & (draw < 0.99)] = 1
    stage[(age >= 12) & (age <= 14) & (draw < 0.98)] = 2
    stage[(age >= 15) & (age <= 17) & (draw < 0.55)] = 3
    stage[(age >= 15) & (age <= 17) & (draw >= 0.55) & (draw < 0.9)] = 4
    stage[(age >= 18) & (age <= 21) & (draw < 0.35)] = 5
    keep = stage >= 0
    person, stage = persons[keep], stage[keep]
    rng = rng_for(ctx.pop.seed, "education-term", school_year * 2 + term)
    n_all = pp.birth.size
    fee_u, aid_u, school_u = rng.random(n_all), rng.random(n_all), rng.random(n_all)
    low, high = _FEE_RANGE[stage].T
    fees = np.round(low + fee_u[person] * (high - low), -1)
    status = ctx.pop.households.status[pp.household[person]]
    share = np.where(status == 2, 0.2 + 0.4 * aid_u[person], 0.6 + 0.4 * aid_u[person])
    # Poor families in compulsory schooling also get a living allowance on top of fee relief.
    allowance = np.where((stage == 1) | (stage == 2), 500.0, 0.0) * (status < 2)
    return {
        "person": person,
        "stage": stage,
        "fees": fees,
        "aid": np.round(fees * share + allowance, 2),
        "school_u": school_u[person],
        "term": np.array([f"{school_year}-{school_year + 1}-{term}"]),
    }


# Rates per month by season; typhoons come Jul-Sep, plum rains (梅雨) bring floods in Jun-Jul.
_DISASTER_RATE = {  # month -> expected events of each type (洪涝, 台风, 山体滑坡, 干旱)
    1: (0.1, 0.0, 0.2, 0.3),
    2: (0.1, 0.0, 0.2, 0.2),
    3: (0.3, 0.0, 0.3, 0.1),
    4: (0.5, 0.0, 0.4, 0.0),
    5: (1.0, 0.0, 0.6, 0.0),
    6: (2.0, 0.1, 1.2, 0.0),
    7: (1.5, 0.8, 1.0, 0.3),
    8: (1.0, 1.2, 0.8, 0.5),
    9: (0.6, 1.0, 0.6, 0.4),
    10: (0.3, 0.3, 0.3, 0.5),
    11: (0.1, 0.0, 0.2, 0.4),
    12: (0.1, 0.0, 0.1, 0.3),
}
_DISASTER_RADIUS_KM = ((3.0, 15.0), (15.0, 40.0), (0.5, 2.0), (10.0, 30.0))


def _events(ctx: MonthContext) -> dict[str, Any]:
    """Disaster events: a random irregular area around a village, and the villages it touches."""
    rng, vil = ctx.rng("disasters"), ctx.pop.villages
    counts = rng.poisson(_DISASTER_RATE[ctx.mon])
    kind = np.repeat(np.arange(4), counts)
    centres = shapely.centroid(vil.geometry)
    # Landslides happen in the mountains; other events anywhere.
    weight = np.where(vil.mountain, 3.0, 1.0)
    tree = shapely.STRtree(vil.geometry)
    areas, touched = [], []
    for k in kind:
        centre = centres[rng.choice(vil.code.size, p=weight / weight.sum())]
        radius = rng.uniform(*_DISASTER_RADIUS_KM[k]) * 1_000 / METRES_PER_DEGREE
        angle = np.linspace(0, 2 * np.pi, 25)[:-1]
        reach = radius * rng.uniform(0.7, 1.3, angle.size)
        x = shapely.get_x(centre) + reach * np.cos(angle) / np.cos(
            np.radians(shapely.get_y(centre))
        )
        y = shapely.get_y(centre) + reach * np.sin(angle)
        area = shapely.polygons(np.column_stack([np.append(x, x[0]), np.append(y, y[0])]))
        areas.append(area)
        touched.append(np.sort(tree.query(area, predicate="intersects")))
    severity = 1 + rng.choice(4, kind.size, p=(0.02, 0.08, 0.25, 0.65))
    # Departments report an event as village codes (0), as an area (1), or both (2); an area
    # that touches no village can only be reported as an area.
    form = rng.choice(3, kind.size, p=(0.4, 0.3, 0.3))
    form[np.array([t.size == 0 for t in touched], dtype=bool)] = 1
    return {
        "kind": kind,
        "areas": areas,
        "villages": touched,
        "severity": severity,
        "form": form,
        "day": np.sort(ctx.days(rng, kind.size)),
    }
