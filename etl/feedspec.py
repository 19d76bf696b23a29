"""The feed registry: what each department file holds, declared as data (see docs/feeds.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.month import Month

ColumnKind = Literal[
    "text",
    "id18",
    "household_no",
    "village_code",
    "date",
    "datetime",
    "month",
    "money",
    "int",
    "lon",
    "lat",
    "coord_sys",
    "village_codes",
    "wkt",
    "policy_code",
]
#: What a header-only file of a feed means: a stop (the department's export broke: a register
#: or a per-household survey is never empty), an empty feed loaded with a warning (events of
#: the month: some months have none), or an empty feed that is normal (no warning).
EmptyFeed = Literal["stop", "warn", "allow"]


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a feed and how it is checked."""

    name: str
    kind: ColumnKind = "text"
    required: bool = True
    #: Allowed values (checked after trimming), when the column is an enumeration.
    choices: tuple[str, ...] | None = None
    #: Inclusive bounds for numbers (money is also checked for negative / absurd values).
    low: float | None = None
    high: float | None = None
    #: Dates and times that must fall in the feed's month (the contract says so).
    in_month: bool = False
    #: Prose (visit notes): kept as written, full-width punctuation included; only ID and
    #: phone numbers in it are masked. Every other column is NFKC-normalised.
    prose: bool = False
    #: The strict form of a text value (a regex), checked on a final record that ends without
    #: a line break: a value cut short there means the upload was truncated.
    form: str | None = None


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One department feed."""

    name: str
    title_zh: str
    department_zh: str
    columns: tuple[Column, ...]
    #: Columns that identify a row; a second valid row with the same key is quarantined.
    key: tuple[str, ...]
    #: Extra row rules by name (implemented in etl.validate).
    rules: tuple[str, ...] = ()
    #: What a header-only file means for this feed (see :data:`EmptyFeed`).
    empty: EmptyFeed = "stop"

    @property
    def column_names(self) -> tuple[str, ...]:
        """The header the file must carry."""
        return tuple(c.name for c in self.columns)

    def file_pattern(self, month: Month | str) -> tuple[str, ...]:
        """File names this feed may have for ``month`` (CSV or XLSX)."""
        return (f"{self.name}_{month}.csv", f"{self.name}_{month}.xlsx")


#: The hazard department's raster: flood/landslide susceptibility 0–1, sampled per household.
HAZARD_FILE_NAME = "hazard_susceptibility.tif"
RELATIONS = ("户主", "配偶", "子女", "孙子女", "父母", "其他")
STATUSES = ("低保", "特困", "低边")
SEXES = ("男", "女")
CLAIM_CATEGORIES = ("慢性病", "大病", "住院", "门诊")
SCHOOL_STAGES = ("学前", "小学", "初中", "高中", "中职", "大学")
DISABILITY_TYPES = ("视力", "听力", "言语", "肢体", "智力", "精神", "多重")
HOUSING_GRADES = ("A", "B", "C", "D")
WATER_SAFE = ("是", "否")
WATER_SOURCES = ("自来水", "井水", "山泉水", "其他")
DISASTER_TYPES = ("洪涝", "台风", "山体滑坡", "干旱")

_ID = Column("id_no", "id18")
_HOUSEHOLD = Column("household_no", "household_no")

FEEDS: tuple[FeedSpec, ...] = (
    FeedSpec(
        "civil_affairs_roster",
        "低收入人口名册",
        "民政局",
        (
            Column("household_no", "household_no"),
            _ID,
            Column("name"),
            Column("relation", choices=RELATIONS),
            Column("sex", choices=SEXES),
            Column("birth_date", "date"),
            Column("village_code", "village_code"),
            Column("address"),
            Column("status", choices=STATUSES),
            Column("phone", required=False, form=r"1[3-9]\d{9}"),
        ),
        key=("id_no",),
    ),
    FeedSpec(
        "income_survey",
        "家庭收入核查",
        "民政局",
        (
            _HOUSEHOLD,
            Column("head_name"),
            Column("survey_month", "month"),
            Column("income_per_capita", "money"),
            Column("household_size", "int", low=1, high=30),
        ),
        key=("household_no",),
    ),
    FeedSpec(
        "medical_claims",
        "医保结算",
        "医保局",
        (
            Column("claim_no"),
            _ID,
            Column("claim_date", "date", in_month=True),
            Column("diagnosis_category", choices=CLAIM_CATEGORIES),
            Column("total_cost", "money"),
            Column("reimbursed", "money"),
            Column("out_of_pocket", "money"),
        ),
        key=("claim_no",),
        rules=("claim_adds_up",),
        empty="warn",
    ),
    FeedSpec(
        "education_enrolment",
        "学生资助",
        "教育局",
        (
            _ID,
            Column("school_stage", choices=SCHOOL_STAGES),
            Column("school_name"),
            Column("term"),
            Column("fees", "money"),
            Column("aid_received", "money"),
        ),
        key=("id_no", "term"),
    ),
    FeedSpec(
        "disability_registry",
        "残疾人登记",
        "残联",
        (
            _ID,
            Column("name"),
            Column("disability_type", choices=DISABILITY_TYPES),
            Column("grade", "int", low=1, high=4),
            Column("certificate_date", "date"),
        ),
        key=("id_no",),
    ),
    FeedSpec(
        "bank_deposits",
        "银行存款核查",
        "银行（73家）",
        (
            _ID,
            Column("bank_code", form=r"B\d{3}"),
            Column("balance", "money"),
            Column("check_date", "date", in_month=True),
        ),
        key=("id_no", "bank_code"),
    ),
    FeedSpec(
        "housing_appraisal",
        "房屋安全鉴定",
        "住建局",
        (
            _HOUSEHOLD,
            Column("appraisal_grade", choices=HOUSING_GRADES),
            Column("appraisal_date", "date", in_month=True),
            Column("longitude", "lon"),
            Column("latitude", "lat"),
            Column("coord_sys", "coord_sys"),
        ),
        key=("household_no",),
        empty="warn",
    ),
    FeedSpec(
        "water_safety",
        "饮水安全",
        "水利局",
        (
            _HOUSEHOLD,
            Column("is_safe", choices=WATER_SAFE),
            Column("source_type", choices=WATER_SOURCES),
            Column("check_date", "date", in_month=True),
        ),
        key=("household_no",),
        empty="warn",
    ),
    FeedSpec(
        "subsidy_ledger",
        "补助发放台账",
        "各部门",
        (
            _HOUSEHOLD,
            Column("policy_code", "policy_code"),
            Column("pay_month", "month"),
            Column("amount", "money"),
            Column("paying_department", required=False),
        ),
        key=("household_no", "policy_code"),
    ),
    FeedSpec(
        "official_visits",
        "结对帮扶走访",
        "农业农村局",
        (
            Column("official_id"),
            Column("official_name"),
            _HOUSEHOLD,
            Column("visit_time", "datetime", in_month=True),
            Column("longitude", "lon"),
            Column("latitude", "lat"),
            Column("coord_sys", "coord_sys"),
            Column("content", required=False, prose=True),
        ),
        key=("official_id", "household_no", "visit_time"),
        empty="warn",
    ),
    FeedSpec(
        "disaster_events",
        "灾情报送",
        "应急管理局",
        (
            Column("event_id"),
            Column("event_type", choices=DISASTER_TYPES),
            Column("event_date", "date"),
            Column("severity", "int", low=1, high=4),
            Column("affected_village_codes", "village_codes", required=False),
            Column("affected_area_wkt", "wkt", required=False),
        ),
        key=("event_id",),
        rules=("event_has_area",),
        empty="allow",
    ),
)

FEEDS_BY_NAME: dict[str, FeedSpec] = {spec.name: spec for spec in FEEDS}
