"""The bilingual UI: one catalog with zh and en for every message, no Chinese UI literal outside it,
the language carried by the URL, and data stored in both languages shown in the chosen one."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboards.messages import LANGS, catalog, t, value_label
from dashboards.state import View
from layers.households import HOUSEHOLD_COLOURS
from layers.measures import MEASURES

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS = ROOT / "dashboards"
#: CJK ideographs, CJK punctuation and full-width forms.
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_has_zh_and_en() -> None:
    messages = catalog()
    assert len(messages) > 100
    for key, texts in messages.items():
        assert set(texts) == set(LANGS), key
        assert all(text.strip() for text in texts.values()), key
        assert placeholders(texts["zh"]) == placeholders(texts["en"]), key
        assert not CJK.search(texts["en"]) or key.startswith("lang."), f"{key}: {texts['en']}"


def test_the_catalog_covers_every_label_the_code_asks_for() -> None:
    keys = set(catalog())
    for measure in MEASURES:
        assert {f"measure.{measure}", f"measure.{measure}.unit"} <= keys
    for level in HOUSEHOLD_COLOURS:
        assert f"warning.level.{level}" in keys
    for state in ("received", "gap", "anomaly"):
        assert f"benefit.state.{state}" in keys
    for status in ("raised", "acknowledged", "verified", "resolved", "dismissed"):
        assert f"warning.status.{status}" in keys
    # Every literal message id used in dashboards/*.py exists (f-string ids are checked above).
    used = set()
    for path in DASHBOARDS.glob("*.py"):
        used |= set(re.findall(r"""\bt\(\s*"([a-z_]+\.[a-z_.]+)""", path.read_text()))
    assert used and used <= keys, used - keys


def docstring_nodes(tree: ast.AST) -> set[int]:
    nodes = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                nodes.add(id(body[0].value))
    return nodes


def test_no_chinese_ui_literal_outside_the_catalog() -> None:
    offenders = []
    for path in sorted(DASHBOARDS.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = docstring_nodes(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and CJK.search(node.value)
            ):
                offenders.append(f"{path.name}:{node.lineno}: {node.value!r}")
    # The browser-side code draws tooltips from labels the server sends: no Chinese there either.
    for path in sorted((DASHBOARDS / "assets").glob("*.js")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if CJK.search(line):
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert offenders == []


def test_missing_texts_fall_back() -> None:
    assert t("no.such.message", "en") == "no.such.message"
    assert t("app.title", "fr") == t("app.title", "zh")
    assert value_label("relation", "户主", "en") == "Head"
    assert value_label("relation", "not-a-relation", "en") == "not-a-relation"
    assert value_label("relation", None, "en") == "—"


codes = st.sampled_from(["33", "3311", "331122", "331122207", "331122207201"])


@given(
    area=codes,
    measure=st.sampled_from(sorted(MEASURES)),
    heat=st.booleans(),
    lang=st.sampled_from(LANGS),
    household=st.none() | st.from_regex(r"H[0-9]{13}", fullmatch=True),
)
def test_the_url_carries_the_whole_view(
    area: str, measure: str, heat: bool, lang: str, household: str | None
) -> None:
    view = View(area, measure, heat, lang, household)
    assert View.from_search(view.search(), "33") == view
    assert View.from_search(view.url().removeprefix("/"), "33") == view


def test_bad_url_values_fall_back_to_defaults() -> None:
    view = View.from_search("?area=3311&layer=drop&lang=fr&heat=yes&household=<b>", "33")
    assert view == View("3311")
    assert View.from_search("", "33") == View("33")
    assert "lang=en" in View("33", lang="en").url()
    assert "lang" not in View("33").url()  # Chinese is the default: short links


def texts(component: Any) -> list[str]:
    """Every string a Dash component tree renders, depth first."""
    if component is None:
        return []
    if isinstance(component, str | int | float):
        return [str(component)]
    if isinstance(component, list | tuple):
        return [s for child in component for s in texts(child)]
    found = []
    for prop in ("children", "title", "alt"):
        value = getattr(component, prop, None)
        found += texts(value)
    return found


@pytest.fixture
def household(derived: Any, conn: psycopg.Connection) -> str:
    row = conn.execute(
        "SELECT w.household_id FROM warning w JOIN household_token t USING (household_id)"
        " WHERE EXISTS (SELECT 1 FROM benefit b WHERE b.household_id = w.household_id"
        "  AND b.month = (SELECT max(month) FROM benefit))"
        " ORDER BY w.score DESC, w.household_id LIMIT 1"
    ).fetchone()
    assert row is not None
    return str(row[0])


def test_the_panel_speaks_the_views_language(
    household: str, rolled_back: psycopg.Connection
) -> None:
    from core.audit import audited
    from dashboards.panel import side_panel
    from dashboards.viewdata import load_view
    from tests.conftest import PROVINCE_OFFICIAL

    conn = rolled_back
    village = conn.execute(
        "SELECT village_code FROM household WHERE household_id = %s LIMIT 1", (household,)
    ).fetchone()
    assert village is not None
    data = {}
    for lang in LANGS:
        view = View(village[0], lang=lang, household=household)
        with audited(conn, PROVINCE_OFFICIAL, route="test", request_id="test") as trail:
            data[lang] = load_view(trail, view)
        assert trail.entry is not None  # the portrait shown was audited
    english = " ".join(texts(side_panel(data["en"], "http://example.test")))
    chinese = " ".join(texts(side_panel(data["zh"], "http://example.test")))
    assert "Return-to-poverty warnings" in english and "返贫预警" in chinese
    assert "返贫预警" not in english
    portrait = data["en"].portrait
    assert portrait is not None
    warning = portrait.warnings[0]
    assert warning["reasons_en"][0] in english and warning["reasons_zh"][0] not in english
    assert warning["reasons_zh"][0] in chinese
    # What stays Chinese in English is data: names of people and places, addresses, visit notes.
    place_names = {portrait.basics[k] for k in ("county", "town", "village")}
    assert all(name in english for name in place_names)


def test_policy_names_follow_the_language(household: str, conn: psycopg.Connection) -> None:
    from core.scope import PROVINCE_SCOPE
    from dashboards.portrait import portrait_panel
    from layers.portrait import household_portrait

    month = conn.execute("SELECT max(month) FROM benefit").fetchone()
    assert month is not None  # other tests may publish a later month that is not derived
    portrait = household_portrait(conn, PROVINCE_SCOPE, household, month[0])
    assert portrait.benefits
    english = " ".join(texts(portrait_panel(portrait, "http://example.test", "en")))
    chinese = " ".join(texts(portrait_panel(portrait, "http://example.test", "zh")))
    for benefit in portrait.benefits:
        assert benefit["name_en"] in english and benefit["name_zh"] not in english
        assert benefit["name_zh"] in chinese
    assert "Due but not received" in english or "Received" in english


def test_door_page_in_both_languages(
    household: str, conn: psycopg.Connection, database_url: str
) -> None:
    from core.access import Role
    from tests.conftest import logged_in_client, make_user

    row = conn.execute(
        "SELECT t.token, h.village_code FROM household_token t JOIN household h"
        " USING (household_id) WHERE t.household_id = %s LIMIT 1",
        (household,),
    ).fetchone()
    assert row is not None
    client = logged_in_client(database_url, make_user(database_url, Role.OFFICIAL, row[1]))
    zh = client.get(f"/h/{row[0]}").get_data(as_text=True)
    en = client.get(f"/h/{row[0]}?lang=en").get_data(as_text=True)
    assert '<html lang="zh-CN">' in zh and "幸福清单" in zh
    assert '<html lang="en">' in en and "Benefit list" in en and "幸福清单" not in en
    reasons = conn.execute(
        "SELECT reasons_zh[1], reasons_en[1] FROM warning WHERE household_id = %s"
        " ORDER BY raised_at DESC LIMIT 1",
        (household,),
    ).fetchone()
    assert reasons is not None
    assert reasons[1] in en and reasons[0] not in en
    assert reasons[0] in zh
    assert f"household={household}" in en and "lang=en" in en  # the map link keeps both
    missing = client.get("/h/" + "0" * 32 + "?lang=en")
    assert missing.status_code == 403
    assert "This household cannot be shown" in missing.get_data(as_text=True)
    assert "无法查看该农户" in client.get("/h/" + "0" * 32).get_data(as_text=True)
    malformed = client.get("/h/nope?lang=en")
    assert malformed.status_code == 404 and "Household not found" in malformed.get_data(
        as_text=True
    )


def test_api_errors_speak_the_language_asked(leader_client: Any) -> None:
    client = leader_client
    english = client.get("/api/areas/339999/children.geojson?lang=en")
    chinese = client.get("/api/areas/339999/children.geojson")
    assert english.status_code == chinese.status_code == 404
    assert english.get_json() == {"error": "Unknown area."}
    assert chinese.get_json() == {"error": "未知区划。"}
