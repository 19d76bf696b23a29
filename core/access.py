"""Who may see what: roles, their declared permissions, users, and small-count suppression.

The permission table is data (:data:`PERMISSIONS`): the web layer asks it, never a role name.
Jurisdictions are enforced twice: in PostGIS by row-level security (the tables and the
granularity of each are declared in :data:`RLS_TABLES`, mirrored by migration 0006), and here,
where the application narrows county-level rows further and decides about portraits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType

from core.errors import InvalidUser
from core.scope import Scope, is_admin_code

#: Counts from 1 to SUPPRESS_BELOW - 1 are shown as "<5" to roles without portrait rights.
SUPPRESS_BELOW = 5
SUPPRESSED = f"<{SUPPRESS_BELOW}"


class Role(StrEnum):
    """What a user does; each maps to one row of :data:`PERMISSIONS`."""

    PROVINCE_LEADER = "province_leader"
    CITY_LEADER = "city_leader"
    COUNTY_LEADER = "county_leader"
    OFFICIAL = "official"  # a town or village official (乡镇/村干部)
    PLANNER = "planner"
    AUDITOR = "auditor"
    ADMIN = "admin"


class PortraitAccess(StrEnum):
    """Which household portraits (names, IDs, everything) a role may open."""

    ALL = "all"  # every household in the jurisdiction
    WARNED = "warned"  # only households with a warning the user oversees (in the jurisdiction)
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Permissions:
    """What one role may do. Every flag is about the user's own jurisdiction."""

    portraits: PortraitAccess
    #: Counts 1-4 in aggregates are shown as "<5" (roles without full portrait rights).
    suppress_small_counts: bool
    #: Household points identified (officials) or only de-identified (planners) or none.
    identified_points: bool
    deidentified_layers: bool
    #: Supervision of officials (visits, findings) and the audit trail.
    supervision_view: bool
    audit_view: bool
    #: Manage users.
    admin: bool
    #: Admin-code lengths the role's jurisdiction may have (2 province … 12 village).
    jurisdiction_lengths: frozenset[int]

    @property
    def may_export(self) -> bool:
        """Whether the role may download layers (every export is de-identified)."""
        return self.identified_points or self.deidentified_layers


_ANY_LEVEL = frozenset({2, 4, 6, 9, 12})
_LEADER = Permissions(
    portraits=PortraitAccess.WARNED,
    suppress_small_counts=True,
    identified_points=False,
    deidentified_layers=True,
    supervision_view=False,
    audit_view=False,
    admin=False,
    jurisdiction_lengths=frozenset({2}),
)

#: Planners, auditors and admins: no portraits, small counts suppressed, any level.
_AGGREGATES_ONLY = Permissions(
    portraits=PortraitAccess.NONE,
    suppress_small_counts=True,
    identified_points=False,
    deidentified_layers=True,
    supervision_view=False,
    audit_view=False,
    admin=False,
    jurisdiction_lengths=_ANY_LEVEL,
)

#: The permission table (docs/security.md renders it).
PERMISSIONS: Mapping[Role, Permissions] = MappingProxyType(
    {
        Role.PROVINCE_LEADER: _LEADER,
        Role.CITY_LEADER: replace(_LEADER, jurisdiction_lengths=frozenset({4})),
        Role.COUNTY_LEADER: replace(_LEADER, jurisdiction_lengths=frozenset({6})),
        Role.OFFICIAL: Permissions(
            portraits=PortraitAccess.ALL,
            suppress_small_counts=False,
            identified_points=True,
            deidentified_layers=True,
            supervision_view=False,
            audit_view=False,
            admin=False,
            jurisdiction_lengths=frozenset({9, 12}),
        ),
        Role.PLANNER: _AGGREGATES_ONLY,
        Role.AUDITOR: replace(_AGGREGATES_ONLY, supervision_view=True, audit_view=True),
        Role.ADMIN: replace(
            _AGGREGATES_ONLY, deidentified_layers=False, audit_view=True, admin=True
        ),
    }
)

#: Tables under FORCE ROW LEVEL SECURITY (migration 0006) and how a row finds its place:
#: ``village`` its own village_code; ``warning`` its warning's village; ``household`` its
#: county, then for a town or village scope the village of its household that month;
#: ``county`` its county only (the application narrows further); ``area`` an aggregate's area
#: code (its subtree and ancestors are visible); ``scope`` the audit row's request scope.
RLS_TABLES: Mapping[str, str] = MappingProxyType(
    {
        "household": "village",
        "household_features": "village",
        "warning": "village",
        "warning_month": "village",
        "household_tile_point": "village",
        "warning_event": "warning",
        "person": "household",
        "member_features": "household",
        "income_survey": "household",
        "medical_claim": "household",
        "education": "household",
        "disability": "household",
        "bank_deposit": "household",
        "housing_appraisal": "household",
        "water_safety": "household",
        "subsidy": "household",
        "visit": "household",
        "benefit": "household",
        "supervision_finding": "household",
        "household_token": "county",
        "supervision_official": "county",
        "quarantine": "county",
        "rollup": "area",
        "trend_rollup": "area",
        "inspection": "county",
        "audit_log": "scope",
        # the assistance loop (migrations 0010, 0011)
        "pairing": "village",
        "task": "village",
        "field_visit": "village",
        "plan_item": "village",
        "official": "county",
        "household_code": "county",
        "visit_photo": "village",  # migration 0012
        "effect_window": "area",  # migration 0031
        "effect_rollup": "area",
    }
)


def validate_jurisdiction(role: Role, jurisdiction: str) -> None:
    """Check that ``jurisdiction`` is an admin code of a level ``role`` may have.

    Raises
    ------
    InvalidUser
        A malformed code, or e.g. a county leader with a village as jurisdiction.
    """
    if not is_admin_code(jurisdiction):
        raise InvalidUser(f"jurisdiction {jurisdiction!r} is not an admin code")
    allowed = PERMISSIONS[role].jurisdiction_lengths
    if len(jurisdiction) not in allowed:
        lengths = ", ".join(str(n) for n in sorted(allowed))
        raise InvalidUser(
            f"a {role.value} needs a jurisdiction of {lengths} digits, not {jurisdiction!r}"
        )


@dataclass(frozen=True, slots=True)
class User:
    """A person who logs in: one role, one jurisdiction (an admin code and its subtree)."""

    username: str
    display_name: str
    role: Role
    jurisdiction: str

    @property
    def scope(self) -> Scope:
        """The user's jurisdiction as a query scope."""
        return Scope(self.jurisdiction)

    @property
    def permissions(self) -> Permissions:
        """The role's row of :data:`PERMISSIONS`."""
        return PERMISSIONS[self.role]


def can_view_portrait(user: User, village_code: str, *, warned: bool) -> bool:
    """Return True if ``user`` may open the portrait of a household.

    Parameters
    ----------
    user
        Who asks.
    village_code
        The household's village.
    warned
        Whether the household has an open warning (leaders see only those portraits: the
        warnings they oversee are the ones inside their jurisdiction).
    """
    if not user.scope.covers(village_code):
        return False
    access = user.permissions.portraits
    return access is PortraitAccess.ALL or (access is PortraitAccess.WARNED and warned)


def suppress(count: int, user: User) -> int | str:
    """Return ``count`` as ``user`` may see it in an aggregate.

    Counts 1-4 become ``"<5"`` for roles without full portrait rights; 0 and 5 or more are
    shown as they are.
    """
    if user.permissions.suppress_small_counts and 0 < count < SUPPRESS_BELOW:
        return SUPPRESSED
    return count
