"""Everything one view of the map needs, read from PostGIS in one go (no Dash components here)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import psycopg

from core.access import User
from core.audit import Audited
from core.errors import NotPermitted, OutOfScope, UnknownArea
from core.scope import LEVEL_CODE_LENGTHS, Scope
from dashboards.state import View
from geo.admin import Area, children, data_version, get_area, lineage
from layers.area_figures import AreaFigures, area_figures
from layers.choropleth import Choropleth, children_choropleth, suppressed
from layers.deidentify import ProtectedCounts, protected_counts
from layers.heatmap import heat_version
from layers.households import (
    HOUSEHOLD_LEVELS,
    MAX_FEATURES,
    clustered,
    household_count,
    latest_month,
    published_version,
)
from layers.months import resolve_month, shown_months
from layers.portrait import Portrait, UnknownHousehold, open_for


@dataclass(frozen=True, slots=True)
class ViewData:
    """The data behind one view: the area, its children's shading, households and a portrait."""

    view: View
    #: Who looks: the role decides what is suppressed and identified.
    viewer: User
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
    #: What the map fits: the area, or (above the viewer's jurisdiction, where only the way
    #: down is drawn) its one visible child.
    focus: Area | None = None
    #: The area's key figures as the viewer may see them (None above the jurisdiction).
    figures: AreaFigures | None = None
    #: The jurisdiction's counts under the small-count rule (roles without portrait rights).
    protected: ProtectedCounts | None = None

    @property
    def shown_households(self) -> int | str:
        """The area's household count as the viewer may see it ("<5", "*" or the number)."""
        if self.protected is None:
            return self.households
        return self.protected.count(self.area.code, "households", self.households)

    #: The months the view can show (published and derived), oldest first.
    months: tuple[dt.date, ...] = ()

    @property
    def area(self) -> Area:
        """The area shown."""
        return self.trail[-1]

    @property
    def shows_households(self) -> bool:
        """Households are drawn at town and village level, inside the viewer's jurisdiction."""
        return (
            self.area.level in HOUSEHOLD_LEVELS
            and self.month is not None
            and self.viewer.scope.covers(self.area.code)
        )

    @property
    def empty_village(self) -> bool:
        """A village where no household lives (the synthetic geography has some)."""
        return self.shows_households and self.area.level == "village" and self.households == 0

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


def load_view(reading: Audited, view: View) -> ViewData:
    """Read what ``view`` shows to the user of ``reading``, inside the user's jurisdiction.

    Counts are suppressed for roles without portrait rights; a portrait is opened through
    ``layers.portrait.open_for`` (so it is audited) when the role may open it, else the view
    drops the household and says why.
    """
    conn, user = reading.conn, reading.user
    scope = user.scope
    view, trail, message = _trail(conn, scope, view)
    code = trail[-1].code
    months = shown_months(conn)
    month = resolve_month(months, view.month) or latest_month(conn)
    if view.month and (month is None or f"{month:%Y-%m}" != view.month):
        view = replace(view, month=None)  # a month not published: the latest instead
    # Counted where households are drawn (a province-wide count would cost every page view).
    counted = month is not None and trail[-1].level in HOUSEHOLD_LEVELS
    shading = children_choropleth(conn, scope, code, view.measure, month=month)
    protected = None
    if user.permissions.suppress_small_counts:
        protected = protected_counts(conn, scope, month)
        shading = suppressed(shading, protected)
    data = ViewData(
        view=view,
        viewer=user,
        trail=trail,
        n_children=len(children(conn, scope, code)),
        shading=shading,
        geography_version=data_version(conn),
        published=published_version(conn),
        heat=heat_version(conn),
        month=month,
        households=household_count(conn, scope, code, month) if counted and month else 0,
        message=message,
        focus=_focus(conn, scope, trail[-1]),
        figures=area_figures(conn, scope, code, suppress=user.permissions.suppress_small_counts),
        protected=protected,
        months=tuple(months),
    )
    if view.household is None:
        return data
    return _with_portrait(reading, data, view.household)


def _focus(conn: psycopg.Connection, scope: Scope, area: Area) -> Area:
    """The area, or its child on the way down to ``scope`` when the area lies above it."""
    if scope.covers(area.code):
        return area
    child = min(n for n in LEVEL_CODE_LENGTHS.values() if n > len(area.code))
    return get_area(conn, scope, scope.prefix[:child])


def _with_portrait(reading: Audited, data: ViewData, household_id: str) -> ViewData:
    try:
        return replace(data, portrait=open_for(reading, household_id))
    except UnknownHousehold:
        refusal = "error.unknown_household"
    except NotPermitted:
        refusal = "error.no_portrait_right"
    # The household leaves the view: no link on the page carries it on.
    return replace(data, view=data.view.with_household(None), message=data.message or refusal)
