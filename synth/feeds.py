"""One function per department feed: the clean rows a department would send for one month."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from geo.crs import wgs84_to_gcj02
from synth.causes import cause_labels, household_causes
from synth.population import (
    DISABILITY_TYPES,
    HOUSING_GRADES,
    RELATION_LABELS,
    STATUS_LABELS,
    WATER_SOURCES,
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
_M_PER_DEG = 111_320.0

SCHOOL_STAGES = ("学前", "小学", "初中", "高中", "中职", "大学")
_UNIVERSITIES = np.array(
    "浙江大学 浙江工业大学 浙江师范大学 宁波大学 杭州电子科技大学 浙江工商大学 温州医科大学 "
    "浙江理工大学 丽水学院 衢州学院 台州学院 浙江农林大学".split()
)
# Term fees (yuan) by stage: compulsory schooling is nearly free, kindergarten and university not.
_FEE_RANGE = np.array([[1200, 3000], [0, 300], [0, 400], [1000, 2500], [0, 1200], [2500, 6500]])
CLAIM_CATEGORIES = ("慢性病", "大病", "住院", "门诊")
DISASTER_TYPES = ("洪涝", "台风", "山体滑坡", "干旱")
LOW_INCOME_STANDARD = 1_145.0  # Zhejiang minimum living standard, yuan per person and month

# Policy catalog: code, name, category, paying department. Codes marked * are emitted.
_POLICY_TABLE = """
P001 最低生活保障金* 基本生活 民政局 | P002 特困人员基本生活费* 基本生活 民政局
P003 特困人员照料护理费* 基本生活 民政局 | P004 低保边缘家庭生活补助* 基本生活 民政局
P005 单人户施保增发* 基本生活 民政局 | P006 重病重残增发* 基本生活 民政局
P007 价格临时补贴 基本生活 发展改革局 | P008 孤儿基本生活费 基本生活 民政局
P009 事实无人抚养儿童生活费 基本生活 民政局 | P010 电费补贴 基本生活 民政局
P011 水费减免 基本生活 水利局 | P012 燃气补贴 基本生活 住建局
P013 住院医疗救助* 医疗 医保局 | P014 门诊慢性病医疗救助* 医疗 医保局
P015 大病保险二次报销 医疗 医保局 | P016 城乡居民医保参保资助* 医疗 医保局
P017 重特大疾病医疗救助* 医疗 医保局 | P018 特殊门诊救助 医疗 医保局
P019 精神障碍患者救治补助 医疗 卫生健康局 | P020 困难群众体检补助 医疗 卫生健康局
P021 意外伤害保险补助 医疗 民政局 | P022 长期护理保险补助 医疗 医保局
P023 学前教育资助* 教育 教育局 | P024 义务教育困难学生生活补助* 教育 教育局
P025 普通高中国家助学金* 教育 教育局 | P026 普通高中免学杂费 教育 教育局
P027 中职国家助学金* 教育 教育局 | P028 中职免学费 教育 教育局
P029 大学新生入学资助* 教育 教育局 | P030 生源地助学贷款贴息 教育 教育局
P031 雨露计划职业教育补助 教育 农业农村局 | P032 寄宿生交通补助 教育 教育局
P033 农村危房改造补助* 住房 住建局 | P034 公租房租赁补贴 住房 住建局
P035 困难家庭住房维修补助 住房 住建局 | P036 农村饮水安全改造补助 住房 水利局
P037 取暖补贴 住房 民政局 | P038 适老化改造补助 住房 民政局
P039 困难残疾人生活补贴* 残疾 残联 | P040 重度残疾人护理补贴* 残疾 残联
P041 残疾人辅助器具补贴 残疾 残联 | P042 残疾儿童康复救助 残疾 残联
P043 残疾人托养补贴 残疾 残联 | P044 残疾学生助学补助 残疾 残联
P045 高龄津贴* 养老 民政局 | P046 城乡居民养老保险代缴 养老 人力社保局
P047 居家养老服务补贴 养老 民政局 | P048 百岁老人长寿补贴* 养老 民政局
P049 失能老人护理补贴 养老 民政局 | P050 公益性岗位补贴 就业 人力社保局
P051 灵活就业社保补贴 就业 人力社保局 | P052 创业担保贷款贴息 就业 人力社保局
P053 职业技能培训补贴 就业 人力社保局 | P054 来料加工补助 就业 农业农村局
P055 临时救助金* 临时救助 民政局 | P056 急难型临时救助 临时救助 民政局
P057 受灾人员救助* 临时救助 应急管理局 | P058 春节慰问金* 慰问 民政局
P059 中秋慰问金* 慰问 民政局 | P060 结对帮扶慰问金* 慰问 农业农村局
"""
POLICIES: tuple[tuple[str, str, str, str], ...] = tuple(
    (code, name.rstrip("*"), category, department)
    for code, name, category, department in (
        e.split() for e in _POLICY_TABLE.replace("\n", "|").split("|") if e.strip()
    )
)
EMITTED_POLICIES = frozenset(
    e.split()[0] for e in _POLICY_TABLE.replace("\n", "|").split("|") if "*" in e
)
_SPRING_FESTIVAL_MONTH = {2024: 2, 2025: 1, 2026: 2, 2027: 2}
_MID_AUTUMN_MONTH = {2024: 9, 2025: 10, 2026: 9, 2027: 9}

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


def _iso(days: NDArrayDate) -> StrArray:
    return np.datetime_as_string(days, unit="D")


def _round(values: NDArray[np.floating[Any]], digits: int) -> FloatArray:
    return np.round(values, digits).astype(np.float64, copy=False)


def _cents(values: FloatArray) -> FloatArray:
    return _round(values, 2)


def _labels(labels: tuple[str, ...], codes: IntArray) -> StrArray:
    return np.array(labels)[codes]


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
            "relation": _labels(RELATION_LABELS, pp.relation[persons]),
            "sex": np.where(pp.female[persons], "女", "男"),
            "birth_date": _iso(pp.birth[persons]),
            "village_code": vil.code[v],
            "address": address,
            "status": _labels(STATUS_LABELS, hh.status[h]),
            "phone": hh.phone[h],
            "poverty_cause": cause_labels(causes[0][h]),
            "poverty_cause_secondary": cause_labels(causes[1][h]),
        }
    )


def income_survey(ctx: MonthContext) -> pd.DataFrame:
    """Household income survey: per-capita monthly income for every household."""
    hh = ctx.pop.households
    act = ctx.households
    income = ctx.memo("income", lambda: income_at(ctx.pop, ctx.index))
    return pd.DataFrame(
        {
            "household_no": hh.no[act],
            "head_name": ctx.pop.people.name[hh.first_person[act]],
            "survey_month": ctx.month,
            "income_per_capita": _cents(income[act]),
            "household_size": hh.size[act],
        }
    )


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


def medical_claims(ctx: MonthContext) -> pd.DataFrame:
    """医保 claims settled this month; total = reimbursed + out_of_pocket to the cent."""
    c = ctx.memo("claims", lambda: _claims(ctx))
    serial = np.char.zfill((np.arange(c["person"].size) + 1).astype(str), 7)
    return pd.DataFrame(
        {
            "claim_no": np.char.add(f"MC{ctx.month.replace('-', '')}", serial),
            "id_no": ctx.pop.people.id_no[c["person"]],
            "claim_date": _iso(c["day"]),
            "diagnosis_category": _labels(CLAIM_CATEGORIES, c["category"]),
            "total_cost": c["total"],
            "reimbursed": c["reimbursed"],
            "out_of_pocket": c["out_of_pocket"],
        }
    )


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


def education_enrolment(ctx: MonthContext) -> pd.DataFrame:
    """教育 enrolment with the current term's fees and aid (new amounts in Sep and Feb)."""
    s = ctx.memo("students", lambda: _students(ctx))
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
            "school_stage": _labels(SCHOOL_STAGES, s["stage"]),
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
            "disability_type": _labels(DISABILITY_TYPES, pp.disability_type[persons]),
            "grade": pp.disability_grade[persons],
            "certificate_date": _iso(pp.certificate_date[persons]),
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
            "balance": _cents(balance),
            "check_date": _iso(bank_day[acc.bank[keep]]),
        }
    )


def _gps(
    rng: np.random.Generator, lon: FloatArray, lat: FloatArray, noise_m: float, gcj_share: float
) -> tuple[FloatArray, FloatArray, StrArray]:
    """Simulate a device reading near a true position; a share of devices report GCJ-02."""
    scale = noise_m / _M_PER_DEG
    lon = lon + rng.normal(0.0, scale, lon.size) / np.cos(np.radians(lat))
    lat = lat + rng.normal(0.0, scale, lat.size)
    gcj = rng.random(lon.size) < gcj_share
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    return (
        _round(np.where(gcj, g_lon, lon), 6),
        _round(np.where(gcj, g_lat, lat), 6),
        np.where(gcj, "gcj02", "wgs84"),
    )


def _appraised(ctx: MonthContext) -> IntArray:
    hh, act = ctx.pop.households, ctx.households
    return act[(hh.appraisal_month[act] == ctx.mon) | (hh.entry[act] == ctx.index)]


def housing_appraisal(ctx: MonthContext) -> pd.DataFrame:
    """住建 housing safety appraisals: yearly per household, and on entry."""
    hh, rng = ctx.pop.households, ctx.rng("housing")
    act = _appraised(ctx)
    lon, lat, crs = _gps(rng, hh.lon[act], hh.lat[act], 5.0, 0.3)
    return pd.DataFrame(
        {
            "household_no": hh.no[act],
            "appraisal_grade": _labels(HOUSING_GRADES, hh.housing_grade[act]),
            "appraisal_date": _iso(ctx.days(rng, act.size)),
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
            "source_type": _labels(WATER_SOURCES, hh.water_source[act]),
            "check_date": _iso(ctx.days(ctx.rng("water"), act.size)),
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
    reach = rng.uniform(1_200.0, 8_000.0, n) / _M_PER_DEG
    lon = _round(np.where(far, lon + reach * np.cos(bearing), lon), 6)
    lat = _round(np.where(far, lat + reach * np.sin(bearing), lat), 6)
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
        radius = rng.uniform(*_DISASTER_RADIUS_KM[k]) * 1_000 / _M_PER_DEG
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


def disaster_events(ctx: MonthContext) -> pd.DataFrame:
    """应急 disaster events with affected village codes and/or the affected area (WKT, WGS-84)."""
    e = ctx.memo("events", lambda: _events(ctx))
    codes = ctx.pop.villages.code
    n = e["kind"].size
    return pd.DataFrame(
        {
            "event_id": [f"E{ctx.month.replace('-', '')}{i + 1:03d}" for i in range(n)],
            "event_type": _labels(DISASTER_TYPES, e["kind"]) if n else np.array([], dtype=str),
            "event_date": _iso(e["day"]),
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


Rows = list[tuple[int, IntArray, FloatArray]]  # (policy number, households, amounts)


def _per_household(
    ctx: MonthContext, policy: int, persons: IntArray, amounts: FloatArray | float
) -> tuple[int, IntArray, FloatArray]:
    """Sum person-level entitlements into one payment per household."""
    amounts = np.broadcast_to(np.asarray(amounts, dtype=float), persons.shape)
    households, inverse = np.unique(ctx.pop.people.household[persons], return_inverse=True)
    totals = np.bincount(inverse, weights=amounts, minlength=households.size)
    return policy, households, totals.astype(np.float64)


def _household_rules(ctx: MonthContext) -> Rows:
    """Monthly allowances decided per household: 低保, 特困, 低边."""
    hh, act, std = ctx.pop.households, ctx.households, LOW_INCOME_STANDARD
    status, size = hh.status[act], hh.size[act]
    income = ctx.memo("income", lambda: income_at(ctx.pop, ctx.index))[act]
    dibao, tekun = status == 0, status == 1
    single = dibao & (size == 1)
    low_edge = (status == 2) & (income < 1.5 * std)
    return [
        (1, act[dibao], (np.maximum(std - income, 0.15 * std) * size)[dibao]),
        (2, act[tekun], (1.3 * std * size)[tekun]),
        (4, act[low_edge], (0.1 * std * size)[low_edge]),
        (5, act[single], np.full(int(single.sum()), 0.1 * std)),
    ]


def _person_rules(ctx: MonthContext) -> Rows:
    """Entitlements of individual members: care, disability, old age, insurance, medical aid."""
    hh, pp, persons = ctx.pop.households, ctx.pop.people, ctx.people
    status = hh.status[pp.household[persons]]
    age = ctx.age(persons)
    disabled = pp.disability_onset[persons] <= ctx.index
    grade = np.where(disabled, pp.disability_grade[persons], 9)
    care = (status == 1) & ((age >= 80) | (grade <= 2))
    heavy = (status == 0) & (pp.serious[persons] | (grade <= 2))
    aged = (age >= 80) & (age < 100)
    rows = [
        _per_household(ctx, 3, persons[care], np.where(grade[care] <= 2, 1_200.0, 600.0)),
        _per_household(ctx, 6, persons[heavy], 0.2 * LOW_INCOME_STANDARD),
        _per_household(ctx, 39, persons[disabled & (status <= 1)], 310.0),
        _per_household(
            ctx, 40, persons[grade <= 2], np.where(grade[grade <= 2] == 1, 360.0, 300.0)
        ),
        _per_household(ctx, 45, persons[aged], np.where(age[aged] >= 90, 200.0, 100.0)),
        _per_household(ctx, 48, persons[age >= 100], 500.0),
    ]
    if ctx.mon == 1:  # the year's insurance contribution is paid for poor members
        rows.append(_per_household(ctx, 16, persons[status <= 1], 380.0))
    c = ctx.memo("claims", lambda: _claims(ctx))
    poor_claim = hh.status[pp.household[c["person"]]] <= 1
    for category, policy, share in ((0, 14, 0.5), (1, 17, 0.7), (2, 13, 0.6)):
        pick = poor_claim & (c["category"] == category)
        rows.append(
            _per_household(ctx, policy, c["person"][pick], c["out_of_pocket"][pick] * share)
        )
    if ctx.mon in (2, 9):  # education aid is paid when a term starts
        s = ctx.memo("students", lambda: _students(ctx))
        for stages, policy in (((0,), 23), ((1, 2), 24), ((3,), 25), ((4,), 27), ((5,), 29)):
            pick = np.isin(s["stage"], stages)
            rows.append(_per_household(ctx, policy, s["person"][pick], s["aid"][pick]))
    return rows


def _occasional_rules(ctx: MonthContext) -> Rows:
    """One-off payments: house rebuilding, temporary and disaster relief, festival gifts."""
    hh, act, rng = ctx.pop.households, ctx.households, ctx.rng("subsidy")
    appraised = _appraised(ctx)
    rebuild = appraised[(hh.housing_grade[appraised] >= 2) & (rng.random(appraised.size) < 0.3)]
    temporary = act[rng.random(act.size) < 0.003]
    hit = np.zeros(ctx.pop.villages.code.size, dtype=bool)
    for villages in ctx.memo("events", lambda: _events(ctx))["villages"]:
        hit[villages] = True
    victims = act[hit[hh.village[act]] & (rng.random(act.size) < 0.2)]
    rows = [
        (33, rebuild, rng.uniform(15_000.0, 40_000.0, rebuild.size)),
        (55, temporary, rng.uniform(500.0, 5_000.0, temporary.size)),
        (57, victims, rng.uniform(500.0, 3_000.0, victims.size)),
    ]
    if ctx.mon == _SPRING_FESTIVAL_MONTH[ctx.year]:
        rows.append((58, act, np.where(hh.status[act] == 1, 800.0, 500.0)))
    if ctx.mon == _MID_AUTUMN_MONTH[ctx.year]:
        rows.append((59, act, np.full(act.size, 300.0)))
    if ctx.mon % 3 == 0:
        paired = act[rng.random(act.size) < 0.2]
        rows.append((60, paired, np.full(paired.size, 200.0)))
    return rows


def subsidy_ledger(ctx: MonthContext) -> pd.DataFrame:
    """Subsidy payments of the month, one row per household and policy."""
    rows = _household_rules(ctx) + _person_rules(ctx) + _occasional_rules(ctx)
    household = np.concatenate([h for _, h, _ in rows])
    policy = np.concatenate([np.full(h.size, p) for p, h, _ in rows])
    amount = np.concatenate([a for _, _, a in rows])
    order = np.lexsort((policy, household))
    household, policy, amount = household[order], policy[order], amount[order]
    departments = np.array([d for *_, d in POLICIES])
    return pd.DataFrame(
        {
            "household_no": ctx.pop.households.no[household],
            "policy_code": np.char.add("P", np.char.zfill(policy.astype(str), 3)),
            "pay_month": ctx.month,
            "amount": _cents(amount),
            "paying_department": departments[policy - 1],
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
