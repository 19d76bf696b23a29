"""One function per department feed: the clean rows a department would send for one month."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pandas as pd
import shapely

from etl.feedspec import (
    CLAIM_CATEGORIES,
    DISABILITY_TYPES,
    DISASTER_TYPES,
    HOUSING_GRADES,
    RELATIONS,
    SCHOOL_STAGES,
    STATUSES,
    WATER_SOURCES,
)
from geo.crs import METRES_PER_DEGREE, wgs84_to_gcj02
from synth.causes import cause_labels, household_causes
from synth.context import (
    MonthContext,
    cents,
    iso_days,
    labels,
    rounded,
)
from synth.population import (
    FloatArray,
    IntArray,
    StrArray,
)
from synth.subsidies import subsidy_ledger

_UNIVERSITIES = np.array(
    "浙江大学 浙江工业大学 浙江师范大学 宁波大学 杭州电子科技大学 浙江工商大学 温州医科大学 "
    "浙江理工大学 丽水学院 衢州学院 台州学院 浙江农林大学".split()
)

_VISIT_OPENERS = ("入户走访", "例行走访", "节前走访", "电话联系后上门", "结对帮扶走访", "上门核实")
_VISIT_MATTERS = (
    "了解家庭收入和就医情况",
    "核实家庭成员及住房情况",
    "宣传社会救助政策",
    "了解老人身体状况",
    "查看房屋安全和饮水情况",
    "协助申请医疗救助",
    "了解子女就学情况",
    "核对银行存款情况",
)
_VISIT_OUTCOMES = (
    "生活基本稳定",
    "老人身体欠佳需持续关注",
    "已协助办理相关手续",
    "家中无安全隐患",
    "反映看病费用压力较大",
    "暂无其他诉求",
    "已将情况上报村委",
)
_COMMA = "\uff0c"  # the full-width comma of Chinese text
VISIT_TEXTS = np.array(
    [
        _COMMA.join(parts) + "。"
        for parts in itertools.product(_VISIT_OPENERS, _VISIT_MATTERS, _VISIT_OUTCOMES)
    ]
)


def civil_affairs_roster(ctx: MonthContext) -> pd.DataFrame:
    """民政 roster of low-income households and members (one row per person)."""
    pop, persons = ctx.pop, ctx.people
    hh, pp, vil = pop.households, pop.people, pop.villages
    h = pp.household[persons]
    v = hh.village[h]
    prefix = np.char.add(
        np.char.add(np.char.add("浙江省", vil.city_name), vil.county_name),
        np.char.add(vil.town, vil.name),
    )
    address = np.char.add(np.char.add(prefix[v], hh.house_no[h].astype(str)), "号")
    causes = ctx.memo("causes", lambda: household_causes(pop))
    return pd.DataFrame(
        {
            "household_no": hh.no[h],
            "id_no": pp.id_no[persons],
            "name": pp.name[persons],
            "relation": labels(RELATIONS, pp.relation[persons]),
            "sex": np.where(pp.female[persons], "女", "男"),
            "birth_date": iso_days(pp.birth[persons]),
            "village_code": vil.code[v],
            "address": address,
            "status": labels(STATUSES, hh.status[h]),
            "phone": hh.phone[h],
            "poverty_cause": cause_labels(causes[0][h]),
            "poverty_cause_secondary": cause_labels(causes[1][h]),
        }
    )


def income_survey(ctx: MonthContext) -> pd.DataFrame:
    """Household income survey: per-capita monthly income for every household."""
    hh = ctx.pop.households
    act = ctx.households
    income = ctx.income()
    return pd.DataFrame(
        {
            "household_no": hh.no[act],
            "head_name": ctx.pop.people.name[hh.first_person[act]],
            "survey_month": ctx.month,
            "income_per_capita": cents(income[act]),
            "household_size": hh.size[act],
        }
    )


def medical_claims(ctx: MonthContext) -> pd.DataFrame:
    """医保 claims settled this month; total = reimbursed + out_of_pocket to the cent."""
    c = ctx.claims()
    serial = np.char.zfill((np.arange(c["person"].size) + 1).astype(str), 7)
    return pd.DataFrame(
        {
            "claim_no": np.char.add(f"MC{ctx.month.replace('-', '')}", serial),
            "id_no": ctx.pop.people.id_no[c["person"]],
            "claim_date": iso_days(c["day"]),
            "diagnosis_category": labels(CLAIM_CATEGORIES, c["category"]),
            "total_cost": c["total"],
            "reimbursed": c["reimbursed"],
            "out_of_pocket": c["out_of_pocket"],
        }
    )


def education_enrolment(ctx: MonthContext) -> pd.DataFrame:
    """教育 enrolment with the current term's fees and aid (new amounts in Sep and Feb)."""
    s = ctx.students()
    pop = ctx.pop
    vil_index = pop.households.village[pop.people.household[s["person"]]]
    county = pop.villages.county_name[vil_index]
    town = pop.villages.town[vil_index]
    names = np.select(
        [s["stage"] == k for k in range(6)],
        [
            np.char.add(town, "中心幼儿园"),
            np.char.add(np.char.add(county, town), "中心小学"),
            np.char.add(np.char.add(county, town), "初级中学"),
            np.char.add(
                county,
                np.array(["第一中学", "第二中学", "第三中学"])[(s["school_u"] * 3).astype(int)],
            ),
            np.char.add(county, "职业技术学校"),
            _UNIVERSITIES[(s["school_u"] * _UNIVERSITIES.size).astype(int)],
        ],
        default="",
    )
    return pd.DataFrame(
        {
            "id_no": pop.people.id_no[s["person"]],
            "school_stage": labels(SCHOOL_STAGES, s["stage"]),
            "school_name": names,
            "term": s["term"][0],
            "fees": s["fees"],
            "aid_received": s["aid"],
        }
    )


def _disabled(ctx: MonthContext) -> IntArray:
    persons = ctx.people
    return persons[ctx.pop.people.disability_onset[persons] <= ctx.index]


def disability_registry(ctx: MonthContext) -> pd.DataFrame:
    """残联 registry of certified disabilities held by household members."""
    pp, persons = ctx.pop.people, _disabled(ctx)
    return pd.DataFrame(
        {
            "id_no": pp.id_no[persons],
            "name": pp.name[persons],
            "disability_type": labels(DISABILITY_TYPES, pp.disability_type[persons]),
            "grade": pp.disability_grade[persons],
            "certificate_date": iso_days(pp.certificate_date[persons]),
        }
    )


def bank_deposits(ctx: MonthContext) -> pd.DataFrame:
    """Bank deposit checks: one row per account; each bank answers on one day of the month."""
    acc = ctx.pop.accounts
    rng = ctx.rng("bank")
    keep = np.flatnonzero(ctx.pop.active(ctx.index)[ctx.pop.people.household[acc.person]])
    balance = acc.balance[keep] * rng.lognormal(0.0, 0.08, keep.size)
    bank_day = ctx.days(rng, 73)
    return pd.DataFrame(
        {
            "id_no": ctx.pop.people.id_no[acc.person[keep]],
            "bank_code": np.char.add("B", np.char.zfill((acc.bank[keep] + 1).astype(str), 3)),
            "balance": cents(balance),
            "check_date": iso_days(bank_day[acc.bank[keep]]),
        }
    )


def _gps(
    rng: np.random.Generator, lon: FloatArray, lat: FloatArray, noise_m: float, gcj_share: float
) -> tuple[FloatArray, FloatArray, StrArray]:
    """Simulate a device reading near a true position; a share of devices report GCJ-02."""
    scale = noise_m / METRES_PER_DEGREE
    lon = lon + rng.normal(0.0, scale, lon.size) / np.cos(np.radians(lat))
    lat = lat + rng.normal(0.0, scale, lat.size)
    gcj = rng.random(lon.size) < gcj_share
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    return (
        rounded(np.where(gcj, g_lon, lon), 6),
        rounded(np.where(gcj, g_lat, lat), 6),
        np.where(gcj, "gcj02", "wgs84"),
    )


def housing_appraisal(ctx: MonthContext) -> pd.DataFrame:
    """住建 housing safety appraisals: yearly per household, and on entry."""
    hh, rng = ctx.pop.households, ctx.rng("housing")
    act = ctx.appraised()
    lon, lat, crs = _gps(rng, hh.lon[act], hh.lat[act], 5.0, 0.3)
    return pd.DataFrame(
        {
            "household_no": hh.no[act],
            "appraisal_grade": labels(HOUSING_GRADES, hh.housing_grade[act]),
            "appraisal_date": iso_days(ctx.days(rng, act.size)),
            "longitude": lon,
            "latitude": lat,
            "coord_sys": crs,
        }
    )


def water_safety(ctx: MonthContext) -> pd.DataFrame:
    """水利 drinking water checks: each household once a quarter."""
    hh, act = ctx.pop.households, ctx.households
    act = act[hh.water_slot[act] == ctx.index % 3]
    return pd.DataFrame(
        {
            "household_no": hh.no[act],
            "is_safe": np.where(hh.water_safe[act], "是", "否"),
            "source_type": labels(WATER_SOURCES, hh.water_source[act]),
            "check_date": iso_days(ctx.days(ctx.rng("water"), act.size)),
        }
    )


def official_visits(ctx: MonthContext) -> pd.DataFrame:
    """Pairing officials' visit log from the phone app (GPS mostly in GCJ-02)."""
    hh, off, rng = ctx.pop.households, ctx.pop.officials, ctx.rng("visits")
    act = ctx.households
    act = act[rng.random(act.size) < np.where(hh.status[act] == 1, 0.6, 0.3)]
    n = act.size
    hour = np.where(rng.random(n) < 0.01, rng.integers(0, 5, n), rng.integers(8, 18, n))
    seconds = hour * 3600 + rng.integers(0, 3600, n)
    when = ctx.days(rng, n).astype("datetime64[s]") + seconds.astype("timedelta64[s]")
    lon, lat, crs = _gps(rng, hh.lon[act], hh.lat[act], 15.0, 0.85)
    # A few check-ins happen far from the household (1-8 km): the official was not there.
    far = rng.random(n) < 0.015
    bearing = rng.uniform(0, 2 * np.pi, n)
    reach = rng.uniform(1_200.0, 8_000.0, n) / METRES_PER_DEGREE
    lon = rounded(np.where(far, lon + reach * np.cos(bearing), lon), 6)
    lat = rounded(np.where(far, lat + reach * np.sin(bearing), lat), 6)
    official = hh.official[act]
    pasted = off.lazy[official] & (rng.random(n) < 0.8)
    text = np.where(
        pasted,
        VISIT_TEXTS[off.canned[official] % VISIT_TEXTS.size],
        VISIT_TEXTS[rng.integers(0, VISIT_TEXTS.size, n)],
    )
    order = np.lexsort((act, when))
    return (
        pd.DataFrame(
            {
                "official_id": off.id[official],
                "official_name": off.name[official],
                "household_no": hh.no[act],
                "visit_time": np.datetime_as_string(when, unit="s"),
                "longitude": lon,
                "latitude": lat,
                "coord_sys": crs,
                "content": text,
            }
        )
        .iloc[order]
        .reset_index(drop=True)
    )


def disaster_events(ctx: MonthContext) -> pd.DataFrame:
    """应急 disaster events with affected village codes and/or the affected area (WKT, WGS-84)."""
    e = ctx.events()
    codes = ctx.pop.villages.code
    n = e["kind"].size
    return pd.DataFrame(
        {
            "event_id": [f"E{ctx.month.replace('-', '')}{i + 1:03d}" for i in range(n)],
            "event_type": labels(DISASTER_TYPES, e["kind"]) if n else np.array([], dtype=str),
            "event_date": iso_days(e["day"]),
            "severity": e["severity"],
            "affected_village_codes": [
                ";".join(codes[v]) if f != 1 else ""
                for v, f in zip(e["villages"], e["form"], strict=True)
            ],
            "affected_area_wkt": [
                shapely.to_wkt(a, rounding_precision=6) if f != 0 else ""
                for a, f in zip(e["areas"], e["form"], strict=True)
            ],
        }
    )


FEEDS: dict[str, Callable[[MonthContext], pd.DataFrame]] = {
    "civil_affairs_roster": civil_affairs_roster,
    "income_survey": income_survey,
    "medical_claims": medical_claims,
    "education_enrolment": education_enrolment,
    "disability_registry": disability_registry,
    "bank_deposits": bank_deposits,
    "housing_appraisal": housing_appraisal,
    "water_safety": water_safety,
    "subsidy_ledger": subsidy_ledger,
    "official_visits": official_visits,
    "disaster_events": disaster_events,
}
