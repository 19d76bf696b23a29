"""Turn validated feeds into the month's fact tables (households, people and department facts)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from core.month import Month
from etl.frames import in_index, lookup
from etl.geocode import village_points
from geo.rasters import sample_points


@dataclass(frozen=True, slots=True)
class Places:
    """What geocoding needs: village polygons and last month's GPS fixes."""

    #: Village polygons indexed by 12-digit code.
    villages: pd.Series
    #: household_no → (lon, lat) of last month's GPS-located households.
    previous_gps: pd.DataFrame
    #: The flood/landslide susceptibility raster sent with the month, if any.
    hazard_raster: Path | None = None


def point_wkb(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[Any]:
    """Hex EWKB of WGS84 points (None where x is NaN), the fastest form COPY accepts."""
    points = np.asarray(shapely.points(x, y), dtype=object)
    points[np.isnan(x)] = None
    return shapely.to_wkb(shapely.set_srid(points, 4326), hex=True, include_srid=True)


def mask_phone(phones: pd.Series) -> pd.Series:
    """Keep the first 3 and last 4 digits of a mobile number."""
    text = phones.fillna("").astype(str)
    return text.str[:3].str.cat(text.str[-4:], sep="****").where(text.str.len() >= 7, None)


def people(roster: pd.DataFrame, month: Month) -> pd.DataFrame:
    """The ``person`` facts of the month."""
    return pd.DataFrame(
        {
            "month": month.first_day.isoformat(),
            "person_token": roster["person_token"],
            "household_id": roster["household_no"],
            "county_code": roster["village_code"].str[:6],
            "id_masked": roster["id_masked"],
            "name": roster["name"],
            "relation": roster["relation"],
            "sex": roster["sex"],
            "birth_date": roster["birth_date"],
        }
    )


def households(
    roster: pd.DataFrame, housing: pd.DataFrame, places: Places, month: Month
) -> pd.DataFrame:
    """The ``household`` facts: one row per household of the roster, placed on the map.

    A household is placed by this month's housing-appraisal GPS, else last month's GPS fix,
    else a fixed point inside its village (``geo_precision`` says which).
    """
    ordered = roster.assign(_head=roster["relation"] != "户主").sort_values(
        ["household_no", "_head"], kind="stable"
    )
    first = ordered.drop_duplicates("household_no")
    heads = first.set_index("household_no")
    size = roster.groupby("household_no").size()
    gps = housing.drop_duplicates("household_no").set_index("household_no")[
        ["lon_wgs84", "lat_wgs84"]
    ]
    previous = places.previous_gps
    lon = heads.index.map(gps["lon_wgs84"]).to_numpy(dtype=float, copy=True)
    lat = heads.index.map(gps["lat_wgs84"]).to_numpy(dtype=float, copy=True)
    carried = np.isnan(lon) & in_index(heads.index, previous.index)
    if carried.any():
        lon[carried] = heads.index[carried].map(previous["lon"]).to_numpy(dtype=float)
        lat[carried] = heads.index[carried].map(previous["lat"]).to_numpy(dtype=float)
    precision = np.where(np.isnan(lon), "village", "gps")
    missing = np.flatnonzero(np.isnan(lon))
    if missing.size:
        codes = heads["village_code"].to_numpy()[missing]
        geoms = places.villages.reindex(codes).to_numpy()
        lon[missing], lat[missing] = village_points(pd.Series(heads.index[missing]), geoms)
    return pd.DataFrame(
        {
            "month": month.first_day.isoformat(),
            "household_id": heads.index,
            "county_code": heads["village_code"].str[:6].to_numpy(),
            "village_code": heads["village_code"].to_numpy(),
            "status": heads["status"].to_numpy(),
            "size": size.reindex(heads.index).to_numpy(),
            "head_token": np.where(heads["relation"] == "户主", heads["person_token"], None),
            "address": heads["address"].to_numpy(),
            "phone_masked": mask_phone(heads["phone"]).to_numpy(),
            "geo_precision": precision,
            "geom": point_wkb(lon, lat),
            "hazard": (
                sample_points(places.hazard_raster, lon, lat).astype(np.float32)
                if places.hazard_raster is not None
                else None
            ),
            "poverty_cause": _cause(heads, "poverty_cause"),
            "poverty_cause_secondary": _cause(heads, "poverty_cause_secondary"),
        }
    )


def _cause(heads: pd.DataFrame, column: str) -> NDArray[Any]:
    """The head row's cause ('' → NULL); a roster without the column gives NULLs."""
    if column not in heads.columns:
        return np.full(len(heads), None, dtype=object)
    values = heads[column].to_numpy(dtype=object, copy=True)
    values[values == ""] = None
    return values


@dataclass(frozen=True, slots=True)
class FactContext:
    """What turning a department's rows into facts needs from the rest of the month."""

    month: Month
    #: person_token → household_no, and household_no → county_code, from the roster.
    persons: pd.Series
    counties: pd.Series
    places: Places


def _of_person(frame: pd.DataFrame, ctx: FactContext) -> pd.DataFrame:
    household = lookup(frame["person_token"], ctx.persons)
    return frame.assign(
        month=ctx.month.first_day.isoformat(),
        household_id=household,
        county_code=lookup(household, ctx.counties),
    )


def _of_household(frame: pd.DataFrame, ctx: FactContext) -> pd.DataFrame:
    return frame.assign(
        month=ctx.month.first_day.isoformat(),
        household_id=frame["household_no"],
        county_code=lookup(frame["household_no"], ctx.counties),
    )


def _with_point(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(
        geom=point_wkb(frame["lon_wgs84"].to_numpy(float), frame["lat_wgs84"].to_numpy(float))
    )


FactBuilder = Callable[[pd.DataFrame, FactContext], dict[str, pd.DataFrame]]

#: For each department feed, the fact tables its valid rows become (columns are picked, in
#: COPY order, by etl.publish.FACT_COLUMNS).
FEED_FACTS: dict[str, FactBuilder] = {
    "income_survey": lambda f, c: {"income_survey": _of_household(f, c)},
    "medical_claims": lambda f, c: {
        "medical_claim": _of_person(f, c).rename(columns={"diagnosis_category": "category"})
    },
    "education_enrolment": lambda f, c: {
        "education": _of_person(f, c).rename(
            columns={"school_stage": "stage", "aid_received": "aid"}
        )
    },
    "disability_registry": lambda f, c: {"disability": _of_person(f, c)},
    "bank_deposits": lambda f, c: {"bank_deposit": _of_person(f, c)},
    "housing_appraisal": lambda f, c: {
        "housing_appraisal": _with_point(_of_household(f, c)).rename(
            columns={"appraisal_grade": "grade", "coord_sys": "source_crs"}
        )
    },
    "water_safety": lambda f, c: {
        "water_safety": _of_household(f, c).assign(safe=f["is_safe"] == "是")
    },
    "subsidy_ledger": lambda f, c: {
        "subsidy": _of_household(f, c).rename(columns={"paying_department": "department"})
    },
    "official_visits": lambda f, c: {
        "visit": _with_point(_of_household(f, c)).rename(columns={"coord_sys": "source_crs"})
    },
    "disaster_events": lambda f, c: dict(
        zip(
            ("disaster_event", "disaster_event_village"),
            disasters(f, c.places, c.month),
            strict=True,
        )
    ),
}


def disasters(
    events: pd.DataFrame, places: Places, month: Month
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Disaster events and the villages each affects (listed ∪ intersecting the area)."""
    m = month.first_day.isoformat()
    tree = shapely.STRtree(places.villages.to_numpy())
    codes = places.villages.index.to_numpy()
    rows: list[tuple[str, str]] = []
    for event_id, listed, area in zip(
        events["event_id"],
        events["affected_village_codes"],
        events["affected_area_wkt"],
        strict=True,
    ):
        affected = {c for c in listed.split(";") if c}
        if area is not None and not shapely.is_missing(area):
            affected |= set(codes[tree.query(area, predicate="intersects")])
            if not affected:  # an area at sea: attribute it to the nearest village's county
                affected = {codes[int(tree.nearest(area))]}
        rows += [(event_id, code) for code in sorted(affected)]
    villages = pd.DataFrame(rows, columns=["event_id", "village_code"]).assign(month=m)
    villages["county_code"] = villages["village_code"].str[:6]
    main_county = villages.groupby("event_id")["county_code"].agg(
        lambda s: s.value_counts().index[0]
    )
    multi = np.array(
        [
            None
            if g is None or shapely.is_missing(g)
            else g
            if g.geom_type == "MultiPolygon"
            else shapely.multipolygons([g])
            for g in events["affected_area_wkt"]
        ],
        dtype=object,
    )
    geom = shapely.to_wkb(shapely.set_srid(multi, 4326), hex=True, include_srid=True)
    table = pd.DataFrame(
        {
            "month": m,
            "event_id": events["event_id"].to_numpy(),
            "county_code": events["event_id"].map(main_county).to_numpy(),
            "event_type": events["event_type"].to_numpy(),
            "event_date": events["event_date"].to_numpy(),
            "severity": events["severity"].to_numpy(),
            "geom": geom,
        }
    )
    return table, villages[["month", "event_id", "village_code", "county_code"]]
