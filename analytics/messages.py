"""Reasons of a warning in words, zh-CN and English (format() templates for PostgreSQL)."""

from __future__ import annotations

REASONS: dict[str, tuple[str, str]] = {
    "illness": (
        "本月医疗自付 %s 元，为家庭月收入的 %s 倍",
        "out-of-pocket medical cost of %s yuan this month, %s times household income",
    ),
    "schooling": (
        "本学期教育净支出 %s 元，超过家庭月收入",
        "net school cost of %s yuan this term exceeds household income",
    ),
    "disaster": ("本月住所位于灾害影响范围内", "home inside this month's disaster area"),
    "hazard": (
        "住所位于地质灾害高易发区（易发度 %s）",
        "home on a high-susceptibility hazard cell (%s)",
    ),
    "income_drop": ("人均收入环比下降 %s%%", "income per capita fell %s%% month over month"),
    "income_low": (
        "低边户人均收入 %s 元，低于低保标准",
        "near-poor household's income of %s yuan is below the standard",
    ),
    "new_disability": ("本月新增持证残疾人", "a member got a disability certificate this month"),
    "housing": ("房屋鉴定为 %s 级危房", "house appraised grade %s (unsafe)"),
    "water": ("饮水不安全", "drinking water unsafe"),
    "deposit": (
        "家庭存款 %s 元，超过核查标准（需核实救助资格）",
        "deposits of %s yuan exceed the threshold (verify eligibility)",
    ),
}


def reason_params() -> dict[str, str]:
    """The templates as SQL parameters ``zh_<name>`` and ``en_<name>``."""
    params: dict[str, str] = {}
    for name, (zh, en) in REASONS.items():
        params[f"zh_{name}"], params[f"en_{name}"] = zh, en
    return params
