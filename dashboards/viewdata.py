"""Everything one view of the map needs, read from PostGIS in one go (no Dash components here)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import psycopg

from dashboards.state import View
from geo.admin import Area, children, data_version, lineage
from geo.errors import OutOfScope, UnknownArea
from geo.scope import Scope
from layers.choropleth import Choropleth, children_choropleth
from layers.heatmap import heat_version
from layers.households import (
    HOUSEHOLD_LEVELS,
    MAX_FEATURES,
    clustered,
    household_count,
    latest_month,
    published_version,
)
from layers.portrait import Portrait, UnknownHousehold, household_portrait


@dataclass(frozen=True, slots=True)
class ViewData:
    """The data behind one view: the area, its children's shading, households and a portrait."""

    view: View
    trail: list[Area]
    n_children: int
    shading: Choropleth
    geography_version: int
    published: int
    heat: str
    month: dt.date | None
    households: int
    portrait: Portrait | None = None
    #: A message id to show (an unknown area or household in the URL).
    message: str | None = None

    @property
    def area(self) -> Area:
        """The area shown."""
        return self.trail[-1]

    @property
    def shows_households(self) -> bool:
        """Households are drawn at town and village level."""
        return self.area.level in HOUSEHOLD_LEVELS and self.month is not None

    @property
    def clustered(self) -> bool:
        """The household points are clustered (a town, or many households)."""
        return self.shows_households and clustered(self.area.level, self.households)

    @property
    def truncated(self) -> bool:
        """The area has more households than one response may carry."""
        return self.shows_households and self.households > MAX_FEATURES


def _trail(
    conn: psycopg.Connection, scope: Scope, view: View
) -> tuple[View, list[Area], str | None]:
    """The breadcrumb of the view's area; the scope's root when the URL names a bad area."""
    try:
        return view, lineage(conn, scope, view.area), None
    except (UnknownArea, OutOfScope) as error:
        message = (
            "error.out_of_scope" if isinstance(error, OutOfScope) else "error.unknown_area_fallback"
        )
        fallback = view.to_area(scope.prefix)
        return fallback, lineage(conn, scope, scope.prefix), message


def load_view(conn: psycopg.Connection, scope: Scope, view: View) -> ViewData:
    """Read what ``view`` shows, inside the viewer's ``scope``."""
    view, trail, message = _trail(conn, scope, view)
    code = trail[-1].code
    month = latest_month(conn)
    # Counted where households are drawn (a province-wide count would cost every page view).
    counted = month is not None and trail[-1].level in HOUSEHOLD_LEVELS
    data = ViewData(
        view=view,
        trail=trail,
        n_children=len(children(conn, scope, code)),
        shading=children_choropleth(conn, scope, code, view.measure),
        geography_version=data_version(conn),
        published=published_version(conn),
        heat=heat_version(conn),
        month=month,
        households=household_count(conn, scope, code, month) if counted and month else 0,
        message=message,
    )
    if view.household is None:
        return data
    try:
        portrait = household_portrait(conn, scope, view.household)
    except UnknownHousehold:
        return replace(data, message=data.message or "error.unknown_household")
    return replace(data, portrait=portrait)
