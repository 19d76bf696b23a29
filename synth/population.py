"""Synthetic low-income households and their members: one fixed universe, viewed month by month."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray

from etl.feedspec import DISABILITY_TYPES, HOUSING_GRADES, WATER_SOURCES
from etl.ids import make_ids
from geo.regions import MOUNTAIN_COUNTIES

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
StrArray = NDArray[np.str_]

BASE_MONTH = "2024-01"  # month index 0; the universe is drawn as of this month
N_MONTHS = 48  # months 2024-01 .. 2027-12 can be generated
MONTHLY_EXIT_RATE = 0.005  # and as many new households enter each month, so the count is stable
_BASE_DATE = np.datetime64("2024-01-01")

# People at full scale per county (760,000 in all; the 26 mountain counties hold 383,500).
# With fewer counties present the table is renormalised over those present; a county missing
# from the table weighs DEFAULT_COUNTY_PEOPLE.
_COUNTY_TABLE = """
    330102 上城区 3500 | 330105 拱墅区 3500 | 330106 西湖区 4000 | 330108 滨江区 2000
    330109 萧山区 7500 | 330110 余杭区 5500 | 330111 富阳区 7500 | 330112 临安区 8500
    330113 临平区 4000 | 330114 钱塘区 3000 | 330122 桐庐县 7500 | 330127 淳安县 23500
    330182 建德市 10500
    330203 海曙区 4500 | 330205 江北区 3000 | 330206 北仑区 3500 | 330211 镇海区 2500
    330212 鄞州区 6500 | 330213 奉化区 5500 | 330225 象山县 7500 | 330226 宁海县 7500
    330281 余姚市 7500 | 330282 慈溪市 7500
    330302 鹿城区 5500 | 330303 龙湾区 3500 | 330304 瓯海区 5500 | 330305 洞头区 2500
    330324 永嘉县 21500 | 330326 平阳县 19500 | 330327 苍南县 22500 | 330328 文成县 17500
    330329 泰顺县 17500 | 330381 瑞安市 12500 | 330382 乐清市 11500 | 330383 龙港市 6500
    330402 南湖区 3500 | 330411 秀洲区 3500 | 330421 嘉善县 4000 | 330424 海盐县 3500
    330481 海宁市 4500 | 330482 平湖市 4000 | 330483 桐乡市 5000
    330502 吴兴区 4500 | 330503 南浔区 4500 | 330521 德清县 4500 | 330522 长兴县 6000
    330523 安吉县 5500
    330602 越城区 4500 | 330603 柯桥区 5500 | 330604 上虞区 6500 | 330624 新昌县 7500
    330681 诸暨市 10500 | 330683 嵊州市 10500
    330702 婺城区 7500 | 330703 金东区 5500 | 330723 武义县 14500 | 330726 浦江县 8500
    330727 磐安县 11500 | 330781 兰溪市 10500 | 330782 义乌市 6500 | 330783 东阳市 10000
    330784 永康市 6500
    330802 柯城区 10500 | 330803 衢江区 15500 | 330822 常山县 13500 | 330824 开化县 15500
    330825 龙游县 13500 | 330881 江山市 16500
    330902 定海区 3500 | 330903 普陀区 3000 | 330921 岱山县 2500 | 330922 嵊泗县 1500
    331002 椒江区 4500 | 331003 黄岩区 6500 | 331004 路桥区 4500 | 331022 三门县 12500
    331023 天台县 15500 | 331024 仙居县 16500 | 331081 温岭市 10500 | 331082 临海市 12500
    331083 玉环市 4500
    331102 莲都区 11500 | 331121 青田县 17500 | 331122 缙云县 15000 | 331123 遂昌县 11500
    331124 松阳县 11500 | 331125 云和县 7500 | 331126 庆元县 9500 | 331127 景宁畲族自治县 8500
    331181 龙泉市 13500
"""
_COUNTY_ROWS = [e.split() for e in _COUNTY_TABLE.replace("\n", "|").split("|") if e.strip()]
COUNTY_PEOPLE: dict[str, int] = {code: int(people) for code, _, people in _COUNTY_ROWS}
COUNTY_NAMES: dict[str, str] = {code: name for code, name, _ in _COUNTY_ROWS}
DEFAULT_COUNTY_PEOPLE = 5_000

# Statuses, relations, disability types, water sources and housing grades are codes into the
# value lists of the feed registry (etl.feedspec); the probabilities below follow their order.
# Mean size 1.53 people: 496,000 households hold ~760,000 people.
HOUSEHOLD_SIZE_P = {1: 0.615, 2: 0.29, 3: 0.055, 4: 0.03, 5: 0.01}
# Extremely poor (特困) support mostly goes to people living alone: status depends on size.
_STATUS_P_SINGLE = (0.53, 0.22, 0.25)
_STATUS_P_SHARED = (0.68, 0.04, 0.28)
_RELATION_P_SECOND = (0.62, 0.22, 0.06, 0.05, 0.05)  # over 配偶..其他
_RELATION_P_LATER = (0.0, 0.50, 0.38, 0.04, 0.08)
_DISABILITY_TYPE_P = (0.12, 0.15, 0.03, 0.45, 0.10, 0.10, 0.05)
_DISABILITY_GRADE_P = (0.10, 0.20, 0.30, 0.40)  # grades 1 (most severe) .. 4
_NEW_DISABILITY_RATE = 0.0003  # per person and month
_WATER_SOURCE_P = (0.70, 0.12, 0.15, 0.03)
_HOUSING_GRADE_P = (0.62, 0.34, 0.03, 0.01)
N_BANKS = 73
_OFFICIAL_LOAD = 25  # households paired with one official

_SURNAMES = np.array(
    list(
        "王陈张李吴徐周刘朱杨黄胡林金潘郑方沈叶何钱蒋孙赵邵俞施楼应章毛汪程傅洪戴郭蔡夏丁马许吕"
        "姚卢余严范虞鲍柳鲁葛童翁谢袁宋曹韩唐冯董"
    )
)
_SURNAME_P = 1.0 / (np.arange(_SURNAMES.size) + 4.0)
_SURNAME_P /= _SURNAME_P.sum()
_MALE_CHARS = np.array(
    list("建国华明伟忠德林荣福根土法兴金水生才春海平军强勇峰志新永祥松樟富贵长宝发顺昌亮斌杰")
)
_FEMALE_CHARS = np.array(list("秀英兰芳珍凤娥花美红玉梅琴丽娟萍菊月仙彩翠香云霞燕莲娣妹素雪"))
# Real feeds carry names with quotes, angle brackets and ampersands; keep them as plain text.
_ODD_NAMES = np.array(
    ['王"阿毛"', "陈<小芳>", "李&王氏", "赵'建国'", "徐<已故>", "周&吴", '郑"小弟"']
)
_ODD_NAME_RATE = 1 / 20_000


def rng_for(seed: int, purpose: str, *extra: int) -> np.random.Generator:
    """Return an independent, reproducible random stream for ``(seed, purpose, *extra)``.

    Parameters
    ----------
    seed : int
        The run's seed (non-negative).
    purpose : str
        A label naming the stream, e.g. ``"universe"`` or ``"medical"``.
    *extra : int
        Further non-negative integers, typically the month index.

    Returns
    -------
    numpy.random.Generator
        A generator that depends only on the arguments (``zlib.crc32`` keeps labels stable
        across processes, unlike ``hash``).
    """
    return np.random.default_rng([seed, zlib.crc32(purpose.encode()), *extra])


def month_index(month: str) -> int:
    """Return the index of ``YYYY-MM`` relative to :data:`BASE_MONTH`.

    Parameters
    ----------
    month : str
        A month such as ``"2024-06"``.

    Returns
    -------
    int
        0 for 2024-01, up to ``N_MONTHS - 1``.

    Raises
    ------
    ValueError
        If the text is not ``YYYY-MM`` or the month lies outside the supported range.
    """
    match = re.fullmatch(r"(\d{4})-(\d{2})", month)
    if not match or not 1 <= int(match[2]) <= 12:
        raise ValueError(f"month must look like YYYY-MM, got {month!r}")
    index = (int(match[1]) - 2024) * 12 + int(match[2]) - 1
    if not 0 <= index < N_MONTHS:
        raise ValueError(f"month {month} outside the supported range {BASE_MONTH} .. 2027-12")
    return index


@dataclass(frozen=True)
class Villages:
    """Villages sorted by code, as plain arrays."""

    code: StrArray
    name: StrArray
    town: StrArray
    county_code: StrArray
    county_name: StrArray
    city_name: StrArray
    geometry: NDArray[np.object_]
    mountain: NDArray[np.bool_]

    @classmethod
    def from_frame(cls, frame: gpd.GeoDataFrame) -> Villages:
        """Validate a villages GeoDataFrame (EPSG:4326) and sort it by village code."""
        required = {"code", "name", "town_name", "county_code", "county_name", "city_name"}
        missing = sorted(required - set(frame.columns))
        if missing:
            raise ValueError(f"villages lack column(s) {missing}")
        if frame.crs is not None and frame.crs.to_epsg() != 4326:
            raise ValueError(f"villages must be in EPSG:4326, got {frame.crs}")
        if frame.empty:
            raise ValueError("villages is empty")
        code = frame["code"].astype(str).to_numpy(dtype=str)
        county = frame["county_code"].astype(str).to_numpy(dtype=str)
        if not all(re.fullmatch(r"\d{12}", c) for c in code) or len(set(code)) != len(code):
            raise ValueError("village codes must be distinct 12-digit strings")
        if not np.all(np.char.startswith(code, county)):
            raise ValueError("every village code must start with its 6-digit county code")
        order = np.argsort(code, kind="stable")

        def col(name: str) -> StrArray:
            return frame[name].astype(str).to_numpy(dtype=str)[order]

        return cls(
            code=code[order],
            name=col("name"),
            town=col("town_name"),
            county_code=county[order],
            county_name=col("county_name"),
            city_name=col("city_name"),
            geometry=frame.geometry.to_numpy()[order],
            mountain=np.isin(county[order], list(MOUNTAIN_COUNTIES)),
        )


@dataclass(frozen=True)
class Households:
    """One row per household of the universe (current, past and future)."""

    no: StrArray  # civil-affairs household number, H + county code + 7 digits
    village: IntArray
    entry: IntArray  # first month index present; -1 = already present at the base month
    exit: IntArray  # first month index absent; N_MONTHS = still present at the horizon
    status: IntArray  # index into etl.feedspec.STATUSES
    size: IntArray
    first_person: IntArray
    lon: FloatArray  # true WGS-84 location
    lat: FloatArray
    house_no: IntArray
    income: FloatArray  # per-capita monthly income (yuan) at entry
    housing_grade: IntArray  # index into etl.feedspec.HOUSING_GRADES
    water_safe: NDArray[np.bool_]
    water_source: IntArray
    phone: StrArray
    appraisal_month: IntArray  # calendar month (1-12) of the yearly housing appraisal
    water_slot: IntArray  # drinking water is checked in months whose index % 3 equals this
    official: IntArray


@dataclass(frozen=True)
class People:
    """One row per person, grouped by household in household order."""

    household: IntArray
    relation: IntArray  # index into etl.feedspec.RELATIONS
    female: NDArray[np.bool_]
    birth: NDArray[np.datetime64]
    id_no: StrArray
    name: StrArray
    chronic: NDArray[np.bool_]
    serious: NDArray[np.bool_]
    disability_onset: IntArray  # month index; -1 = before the base month; N_MONTHS = never
    disability_grade: IntArray  # 1..4
    disability_type: IntArray  # index into etl.feedspec.DISABILITY_TYPES
    certificate_date: NDArray[np.datetime64]
    school_draw: FloatArray  # fixed uniform deciding whether and where the person studies


@dataclass(frozen=True)
class Accounts:
    """Bank accounts of adults; at most one per person and bank."""

    person: IntArray
    bank: IntArray  # 0..72 for B001..B073
    balance: FloatArray  # yuan at the base month


@dataclass(frozen=True)
class Officials:
    """Officials paired with households (结对干部)."""

    id: StrArray
    name: StrArray
    lazy: NDArray[np.bool_]  # pastes the same visit text again and again
    canned: IntArray  # the text a lazy official pastes (index into the visit texts)


@dataclass(frozen=True)
class Population:
    """The whole synthetic universe for one seed and size."""

    seed: int
    villages: Villages
    households: Households
    people: People
    accounts: Accounts
    officials: Officials

    def active(self, index: int) -> NDArray[np.bool_]:
        """Mask of households present in month ``index``."""
        hh = self.households
        return (hh.entry <= index) & (hh.exit > index)


def county_household_targets(county_codes: StrArray, n_households: int) -> IntArray:
    """Split ``n_households`` over counties in proportion to :data:`COUNTY_PEOPLE`.

    Parameters
    ----------
    county_codes : numpy.ndarray of str
        Distinct 6-digit county codes present in the villages.
    n_households : int
        Households to place at the base month.

    Returns
    -------
    numpy.ndarray of int
        Households per county, summing exactly to ``n_households`` (largest remainders).
    """
    weights = np.array([COUNTY_PEOPLE.get(c, DEFAULT_COUNTY_PEOPLE) for c in county_codes], float)
    exact = n_households * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: n_households - counts.sum()]] += 1
    return counts


def _base_villages(rng: np.random.Generator, vil: Villages, n_households: int) -> IntArray:
    counties, county_of = np.unique(vil.county_code, return_inverse=True)
    targets = county_household_targets(counties, n_households)
    # Villages differ in how many poor households they hold; lognormal weights within a county.
    weight = rng.lognormal(0.0, 0.6, vil.code.size)
    per_village = np.zeros(vil.code.size, dtype=np.int64)
    for c, target in enumerate(targets):
        members = np.flatnonzero(county_of == c)
        p = weight[members] / weight[members].sum()
        per_village[members] = rng.multinomial(target, p)
    return np.repeat(np.arange(vil.code.size), per_village)


def _schedule(
    rng: np.random.Generator, base_village: IntArray, n_villages: int
) -> tuple[IntArray, IntArray, IntArray]:
    """Entry month, exit month and village of every household, base ones first.

    Each month exactly as many households enter as leave, so every month holds the same count.
    """
    village_p = np.bincount(base_village, minlength=n_villages) / base_village.size
    villages = [base_village]
    entries = [np.full(base_village.size, -1, dtype=np.int64)]
    exits = [np.minimum(rng.geometric(MONTHLY_EXIT_RATE, base_village.size), N_MONTHS)]
    leaving = np.bincount(exits[0], minlength=N_MONTHS + 1)
    for month in range(1, N_MONTHS):
        k = int(leaving[month])
        exit_ = np.minimum(month + rng.geometric(MONTHLY_EXIT_RATE, k), N_MONTHS)
        leaving += np.bincount(exit_, minlength=N_MONTHS + 1)
        villages.append(rng.choice(n_villages, size=k, p=village_p))
        entries.append(np.full(k, month, dtype=np.int64))
        exits.append(exit_)
    return np.concatenate(villages), np.concatenate(entries), np.concatenate(exits)


def _sample_points(
    rng: np.random.Generator, geometry: NDArray[np.object_], village: IntArray
) -> tuple[FloatArray, FloatArray]:
    """Uniform random points inside each household's village polygon (rejection sampling)."""
    shapely.prepare(geometry)
    bounds = shapely.bounds(geometry)[village]
    lon = np.empty(village.size)
    lat = np.empty(village.size)
    todo = np.arange(village.size)
    for _ in range(200):
        if not todo.size:
            break
        b = bounds[todo]
        x = b[:, 0] + rng.random(todo.size) * (b[:, 2] - b[:, 0])
        y = b[:, 1] + rng.random(todo.size) * (b[:, 3] - b[:, 1])
        inside = shapely.contains_xy(geometry[village[todo]], x, y)
        lon[todo[inside]], lat[todo[inside]] = x[inside], y[inside]
        todo = todo[~inside]
    if todo.size:  # slivers: fall back to a point guaranteed inside
        points = shapely.point_on_surface(geometry[village[todo]])
        lon[todo], lat[todo] = shapely.get_x(points), shapely.get_y(points)
    return lon, lat


def make_names(rng: np.random.Generator, female: NDArray[np.bool_]) -> StrArray:
    """Chinese names: a surname and one or two given-name characters chosen by sex."""
    n = female.size
    surname = _SURNAMES[rng.choice(_SURNAMES.size, n, p=_SURNAME_P)]
    first = np.where(
        female,
        _FEMALE_CHARS[rng.integers(0, _FEMALE_CHARS.size, n)],
        _MALE_CHARS[rng.integers(0, _MALE_CHARS.size, n)],
    )
    second = np.where(
        female,
        _FEMALE_CHARS[rng.integers(0, _FEMALE_CHARS.size, n)],
        _MALE_CHARS[rng.integers(0, _MALE_CHARS.size, n)],
    )
    second = np.where(rng.random(n) < 0.75, second, "")
    names = np.char.add(np.char.add(surname, first), second).astype("U8")
    odd = rng.random(n) < _ODD_NAME_RATE
    names[odd] = _ODD_NAMES[rng.integers(0, _ODD_NAMES.size, int(odd.sum()))]
    return names


def _households(
    rng: np.random.Generator, vil: Villages, village: IntArray, entry: IntArray, exit_: IntArray
) -> Households:
    n = village.size
    size = rng.choice(list(HOUSEHOLD_SIZE_P), n, p=list(HOUSEHOLD_SIZE_P.values()))
    status = np.where(
        size == 1, rng.choice(3, n, p=_STATUS_P_SINGLE), rng.choice(3, n, p=_STATUS_P_SHARED)
    )
    mountain = vil.mountain[village]
    median = np.where(mountain, 1_250.0, 1_600.0) * np.array([1.0, 0.85, 1.25])[status]
    income = np.clip(median * rng.lognormal(0.0, 0.3, n), 150.0, 8_000.0)
    source = rng.choice(len(WATER_SOURCES), n, p=_WATER_SOURCE_P)
    unsafe_p = np.array([0.01, 0.12, 0.10, 0.25])[source]
    phone = (rng.choice([13, 15, 17, 18, 19], n) * 10**9 + rng.integers(0, 10**9, n)).astype(str)
    county = vil.county_code[village]
    order = np.argsort(county, kind="stable")
    _, starts, counts = np.unique(county[order], return_index=True, return_counts=True)
    ordinal = np.empty(n, dtype=np.int64)
    ordinal[order] = np.arange(n) - np.repeat(starts, counts) + 1
    number = np.char.add(np.char.add("H", county), np.char.zfill(ordinal.astype(str), 7))
    lon, lat = _sample_points(rng, vil.geometry, village)
    return Households(
        no=number,
        village=village,
        entry=entry,
        exit=exit_,
        status=status,
        size=size,
        first_person=np.cumsum(size) - size,
        lon=lon,
        lat=lat,
        house_no=rng.integers(1, 400, n),
        income=np.round(income, 2),
        housing_grade=rng.choice(len(HOUSING_GRADES), n, p=_HOUSING_GRADE_P),
        water_safe=rng.random(n) >= unsafe_p,
        water_source=source,
        phone=np.where(rng.random(n) < 0.6, phone, ""),
        appraisal_month=rng.integers(1, 13, n),
        water_slot=rng.integers(0, 3, n),
        official=np.zeros(n, dtype=np.int64),  # set by _officials once households exist
    )


def _ages(rng: np.random.Generator, size: IntArray) -> tuple[IntArray, FloatArray, IntArray]:
    """Relation, age at the base month and household of every person."""
    household = np.repeat(np.arange(size.size), size)
    position = np.arange(household.size) - (np.cumsum(size) - size)[household]
    n_hh, n = size.size, household.size
    head_age = np.where(
        rng.random(n_hh) < 0.8, 60.0 + rng.gamma(2.2, 6.0, n_hh), rng.uniform(28.0, 60.0, n_hh)
    )
    head_age = np.minimum(head_age, 101.0)[household]
    relation = np.zeros(n, dtype=np.int64)
    second, later = position == 1, position >= 2
    relation[second] = 1 + rng.choice(5, int(second.sum()), p=_RELATION_P_SECOND)
    relation[later] = 1 + rng.choice(5, int(later.sum()), p=_RELATION_P_LATER)
    relation[(relation == 4) & (head_age >= 65)] = 5  # old heads rarely live with parents
    offsets = [
        np.zeros(n),
        rng.normal(-1.0, 3.0, n),
        -rng.uniform(22.0, 38.0, n),
        -rng.uniform(45.0, 62.0, n),
        rng.uniform(20.0, 30.0, n),
    ]
    age = head_age + np.choose(np.minimum(relation, 4), offsets)
    age = np.where(relation == 5, rng.uniform(5.0, 85.0, n), age)
    age = np.where(age < 0, rng.uniform(0.0, 6.0, n), np.minimum(age, 102.0))
    age[relation == 1] = np.maximum(age[relation == 1], 18.0)
    return relation, age, household


def _people(rng: np.random.Generator, vil: Villages, hh: Households) -> People:
    relation, age, household = _ages(rng, hh.size)
    n = household.size
    head_female = rng.random(hh.size.size) < 0.55
    female = np.where(relation == 1, ~head_female[household], rng.random(n) < 0.5)
    female[relation == 0] = head_female
    birth = _BASE_DATE - np.round(age * 365.2425).astype("timedelta64[D]")
    old = age >= 60
    onset = np.minimum(rng.geometric(_NEW_DISABILITY_RATE, n) - 1, N_MONTHS)
    onset[rng.random(n) < 0.12] = -1
    first_cert = np.datetime64("2008-01-01")
    certificate = first_cert + rng.integers(0, (_BASE_DATE - first_cert).astype(int), n)
    onset_start = (np.datetime64(BASE_MONTH) + np.maximum(onset, 0)).astype("datetime64[D]")
    certificate = np.where(onset >= 0, onset_start + rng.integers(0, 28, n), certificate)
    return People(
        household=household,
        relation=relation,
        female=female,
        birth=birth,
        id_no=make_ids(
            rng, vil.county_code[hh.village][household], birth, np.where(female, "女", "男")
        ),
        name=make_names(rng, female),
        chronic=rng.random(n) < np.where(old, 0.30, 0.15),
        serious=rng.random(n) < np.where(old, 0.06, 0.035),
        disability_onset=onset,
        disability_grade=1 + rng.choice(4, n, p=_DISABILITY_GRADE_P),
        disability_type=rng.choice(len(DISABILITY_TYPES), n, p=_DISABILITY_TYPE_P),
        certificate_date=certificate,
        school_draw=rng.random(n),
    )


def _accounts(rng: np.random.Generator, people: People) -> Accounts:
    adult = (_BASE_DATE - people.birth).astype(int) >= 18 * 365
    count = np.where(adult, rng.choice(4, people.birth.size, p=(0.10, 0.60, 0.25, 0.05)), 0)
    person = np.repeat(np.arange(count.size), count)
    k = np.arange(person.size) - (np.cumsum(count) - count)[person]
    # Rural commercial banks and the big state banks dominate: Zipf-like choice of first bank,
    # then a per-person stride (73 is prime) so one person's banks never repeat.
    bank_p = 1.0 / (np.arange(N_BANKS) + 2.0) ** 1.1
    first = rng.choice(N_BANKS, count.size, p=bank_p / bank_p.sum())[person]
    stride = rng.integers(1, N_BANKS, count.size)[person]
    balance = np.minimum(rng.lognormal(np.log(2_500.0), 1.2, person.size), 200_000.0)
    rich = rng.random(person.size) < 0.012
    balance[rich] = rng.uniform(50_000.0, 300_000.0, int(rich.sum()))
    return Accounts(person=person, bank=(first + k * stride) % N_BANKS, balance=balance)


def _officials(
    rng: np.random.Generator, vil: Villages, hh: Households
) -> tuple[Officials, IntArray]:
    """Create officials per county and return them with each household's official index."""
    county = vil.county_code[hh.village]
    counties, county_of = np.unique(county, return_inverse=True)
    per_county = np.bincount(county_of)
    n_officials = -(-per_county // _OFFICIAL_LOAD)
    offsets = np.cumsum(n_officials) - n_officials
    # Shuffle the pairing inside a county so an official's households are not consecutive.
    shuffled = rng.permutation(hh.no.size)
    rank = np.empty(hh.no.size, dtype=np.int64)
    order = np.lexsort((shuffled, county_of))
    rank[order] = np.arange(hh.no.size) - np.repeat(np.cumsum(per_county) - per_county, per_county)
    official = offsets[county_of] + rank % n_officials[county_of]
    local = np.concatenate([np.arange(1, k + 1) for k in n_officials])
    ids = np.char.add(
        np.char.add("O", np.repeat(counties, n_officials)), np.char.zfill(local.astype(str), 4)
    )
    n = ids.size
    officials = Officials(
        id=ids,
        name=make_names(rng, rng.random(n) < 0.4),
        lazy=rng.random(n) < 0.15,
        canned=rng.integers(0, 1_000_000, n),
    )
    return officials, official


def build_population(villages: gpd.GeoDataFrame, *, n_households: int, seed: int) -> Population:
    """Draw the universe of households and people for a seed.

    ``n_households`` households are present at the base month; as many enter as leave every
    month after, so every month in range holds exactly ``n_households``. The result depends only
    on ``(villages, n_households, seed)``, never on the month asked for.

    Parameters
    ----------
    villages : geopandas.GeoDataFrame
        Columns ``code``, ``name``, ``town_name``, ``county_code``, ``county_name``,
        ``city_name`` and polygon geometry in EPSG:4326.
    n_households : int
        Households present in each month.
    seed : int
        Non-negative seed.

    Returns
    -------
    Population
        Arrays describing villages, households, people, bank accounts and officials.
    """
    if n_households <= 0 or seed < 0:
        raise ValueError("n_households must be positive and seed non-negative")
    vil = Villages.from_frame(villages)
    rng = rng_for(seed, "universe", n_households)
    village, entry, exit_ = _schedule(rng, _base_villages(rng, vil, n_households), vil.code.size)
    hh = _households(rng, vil, village, entry, exit_)
    people = _people(rng, vil, hh)
    officials, official_of = _officials(rng, vil, hh)
    hh = replace(hh, official=official_of)
    return Population(seed, vil, hh, people, _accounts(rng, people), officials)


def income_at(pop: Population, index: int) -> FloatArray:
    """Per-capita monthly income of every household in month ``index``.

    Each month about 5 % of households see their income drift; a fifth of those drop by more
    than 30 %. The drift of month k comes from its own stream, so any month is reproducible
    without generating the ones before it.
    """
    income = pop.households.income.copy()
    n = income.size
    for k in range(1, index + 1):
        rng = rng_for(pop.seed, "income-drift", k)
        moved = np.flatnonzero(rng.random(n) < 0.05)
        drop = rng.random(moved.size) < 0.2
        factor = np.where(
            drop, rng.uniform(0.4, 0.7, moved.size), rng.lognormal(0.12, 0.10, moved.size)
        )
        income[moved] *= factor
    return np.round(np.clip(income, 50.0, 20_000.0), 2).astype(np.float64)
