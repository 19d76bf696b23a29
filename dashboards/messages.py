"""The message catalog: every UI label in zh-CN (default) and English."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "app.title": {
        "zh": "一张图 · 低收入农户帮扶",
        "en": "onemap · low-income household assistance",
    },
    "app.synthetic": {
        "zh": "演示系统：所有农户数据均为合成数据；县及以上边界为真实边界，乡镇、村为合成。",
        "en": "Demo: all household data is synthetic; county and higher boundaries are real, "
        "towns and villages are synthesised.",
    },
    "level.province": {"zh": "省", "en": "Province"},
    "level.city": {"zh": "市", "en": "City"},
    "level.county": {"zh": "县（市、区）", "en": "County"},
    "level.town": {"zh": "乡镇（街道）", "en": "Town"},
    "level.village": {"zh": "村（社区）", "en": "Village"},
    "panel.code": {"zh": "区划代码", "en": "Admin code"},
    "panel.level": {"zh": "层级", "en": "Level"},
    "panel.kind": {"zh": "类型", "en": "Kind"},
    "panel.children": {"zh": "下级区划", "en": "Sub-areas"},
    "panel.synthetic_area": {
        "zh": "此区划为合成（非真实）乡镇/村。",
        "en": "This town/village is synthetic, not a real one.",
    },
    "panel.click_hint": {
        "zh": "点击地图上的区域逐级下钻。",
        "en": "Click an area on the map to drill down.",
    },
    "error.unknown_area": {
        "zh": "未知区划，已返回全省。",
        "en": "Unknown area; showing the province.",
    },
    "error.out_of_scope": {
        "zh": "该区划不在您的管辖范围内。",
        "en": "This area is outside your jurisdiction.",
    },
}


def t(key: str, lang: str = "zh") -> str:
    """Return the label ``key`` in ``lang`` (falls back to Chinese, then to the key itself)."""
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    return entry.get(lang) or entry["zh"]
