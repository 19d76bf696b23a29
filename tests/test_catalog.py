"""One catalog: palettes, layers and the map's measures are declared once in layers/layers.yaml.

The choropleth, the household points, the statistics and the exports draw in the catalog's
colours and nothing else spells a layer colour; a measure that reads an unknown rollup column,
names an unknown layer or rests on an unprotected count is refused when the catalog is read; the
map's switcher lists exactly the catalog's measures and its download menu offers the layer of
the measure on screen first.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from pydantic import ValidationError

from core.access import Role, User
from dashboards.downloads import download_menu
from dashboards.panel import measure_links
from dashboards.state import View
from layers import choropleth
from layers.catalog import ROLLUP_COLUMNS, Catalog, catalog, get_layer, warning_colours
from layers.deidentify import PROTECTED_COLUMNS, ProtectedCounts
from layers.households import HOUSEHOLD_COLOURS
from layers.measures import DEFAULT_MEASURE, MEASURES

ROOT = Path(__file__).resolve().parents[1]
HEX = re.compile(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b")
#: Files whose hex colours are page furniture, not layer styling (and never a catalog colour).
CHROME = {
    "layers/door.py": "the printed door plate's border and heading",
    "layers/village_map.py": "the offline page's banner, legend box and village outline",
    "dashboards/field.py": "the field page's own style sheet",
    "dashboards/layout.py": "the outline of an area under the pointer",
    "dashboards/portrait.py": "the income line of the portrait's chart",
    "dashboards/stats_page.py": "the province's grey comparison lines and the target line",
    "dashboards/wall_page.py": "the wall's dark theme (warning levels brightened for it)",
}


def raw_catalog() -> dict[str, Any]:
    """The catalog as written (a fresh copy to alter)."""
    text = (resources.files("layers") / "layers.yaml").read_text("utf-8")
    return copy.deepcopy(yaml.safe_load(text))


def catalog_colours() -> set[str]:
    """Every colour the catalog declares: palettes and class colours."""
    colours = catalog().palettes.colours()
    for layer in catalog().layers.values():
        colours |= {c.colour for c in layer.style.classes} | {layer.style.no_data}
    return colours


def test_the_choropleth_draws_in_the_catalogs_palettes() -> None:
    palettes = catalog().palettes
    assert choropleth.PALETTES is palettes
    for measure in MEASURES.values():
        expected = palettes.worse if measure.higher_is_worse else palettes.better
        assert choropleth.palette(measure) is expected
    # Every class colour of a shaded map, and the fills apart from the ramp.
    values: dict[str, float | str | None] = {str(i): float(i) for i in range(12)} | {"x": "<5"}
    for key in ("warnings_per_100", "visit_coverage"):
        shading = choropleth.suppressed(
            choropleth.Choropleth(MEASURES[key], dt.date(2024, 6, 1), values),
            ProtectedCounts({}, {}),
        )
        ramp = choropleth.palette(MEASURES[key])
        assert shading.colours == list(ramp[len(ramp) - len(shading.breaks) :])
        assert {e.colour for e in shading.legend} <= set(ramp) | {
            palettes.zero,
            palettes.suppressed,
        }
        hideout = shading.hideout()
        assert hideout["noData"] == palettes.no_data
        assert hideout["suppressedColour"] == palettes.suppressed
        assert hideout["zeroColour"] in (palettes.zero, None)


def test_household_points_draw_in_the_households_layers_colours() -> None:
    classes = get_layer("households").style.classes
    assert HOUSEHOLD_COLOURS == warning_colours()
    assert list(HOUSEHOLD_COLOURS.values()) == [c.colour for c in classes]
    assert list(HOUSEHOLD_COLOURS) == ["red", "orange", "yellow", "none"]  # worst first
    # The warned points export in the same colours (one declaration, a YAML alias).
    warned = {str(c.value): c.colour for c in get_layer("warnings").style.classes}
    assert warned == {k: v for k, v in HOUSEHOLD_COLOURS.items() if k != "none"}


def test_graduated_layers_take_the_darkest_colours_of_a_declared_ramp() -> None:
    ramps = catalog().palettes.ramps
    for layer in catalog().layers.values():
        style = layer.style
        if style.kind != "graduated":
            continue
        assert style.palette in ramps, layer.key
        ramp = ramps[style.palette]
        assert [c.colour for c in style.classes] == list(ramp[len(ramp) - len(style.classes) :])
    # The admin units' rollup layer is shaded as the map shades its measure.
    assert [c.colour for c in get_layer("areas").style.classes] == list(catalog().palettes.worse)


def _python_files() -> list[Path]:
    return sorted([*(ROOT / "layers").glob("*.py"), *(ROOT / "dashboards").glob("*.py")])


def test_no_layer_colour_is_written_outside_the_catalog() -> None:
    declared = catalog_colours()
    for path in _python_files():
        name = str(path.relative_to(ROOT))
        literals = {c.lower() for c in HEX.findall(path.read_text("utf-8"))}
        if name not in CHROME:
            assert not literals, (
                f"{name} styles with {sorted(literals)}: declare them in the catalog"
            )
        assert not literals & declared, f"{name} repeats catalog colours {literals & declared}"
    for script in sorted((ROOT / "dashboards" / "assets").glob("*.js")):
        if script.name.startswith("dashExtensions"):
            continue
        literals = {c.lower() for c in HEX.findall(script.read_text("utf-8"))}
        assert not literals & declared, f"{script.name} repeats catalog colours"
    assert set(CHROME) <= {str(p.relative_to(ROOT)) for p in _python_files()}


def _refused(raw: dict[str, Any], *fragments: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Catalog.model_validate(raw)
    for fragment in fragments:
        assert fragment in str(caught.value), str(caught.value)


def test_the_catalog_as_written_is_valid() -> None:
    assert Catalog.model_validate(raw_catalog()) == catalog()


def test_palette_references_and_colours_are_checked() -> None:
    raw = raw_catalog()
    raw["layers"]["areas"]["style"]["palette"] = "worst"
    _refused(raw, "palette 'worst' is not allowed", "did you mean 'worse'")
    raw = raw_catalog()
    raw["layers"]["areas"]["style"]["classes"][0]["colour"] = "#ffffb2"
    _refused(raw, "takes the ramp's colour")
    raw = raw_catalog()
    raw["palettes"]["ramps"]["worse"][0] = "yellow"
    _refused(raw, "colour 'yellow' is not #rrggbb")
    raw = raw_catalog()
    raw["palettes"]["warning"] = "#ff0000"
    _refused(raw, "Extra inputs are not permitted")


def test_a_measure_reading_an_unknown_rollup_column_is_refused() -> None:
    raw = raw_catalog()
    raw["measures"]["unsafe_water"]["numerator"] = ["unsafe_waters"]
    _refused(raw, "column 'unsafe_waters' is not allowed", "did you mean 'unsafe_water'")
    raw = raw_catalog()
    raw["measures"]["income_median"]["column"] = "income_median; DROP TABLE rollup"
    _refused(raw, "is not allowed")
    raw = raw_catalog()
    raw["measures"]["benefit_gaps"]["denominator"] = "data_version"  # a column, not a figure
    _refused(raw, "column 'data_version' is not allowed")


def test_a_measure_of_an_unknown_layer_is_refused() -> None:
    raw = raw_catalog()
    raw["measures"]["unsafe_housing"]["layer"] = "housing"
    _refused(raw, "measure unsafe_housing: layer 'housing' is not allowed")


def test_a_measure_must_rest_on_protected_counts() -> None:
    raw = raw_catalog()
    raw["measures"]["visit_coverage"]["counts"] = ["visited_30d", "income_median"]
    _refused(raw, "protected count 'income_median' is not allowed")
    raw = raw_catalog()
    raw["measures"]["visit_coverage"]["counts"] = []
    _refused(raw, "counts")


def test_measure_declarations_are_checked_for_shape_and_unknown_keys() -> None:
    raw = raw_catalog()
    raw["measures"]["red_warnings"]["denominator"] = "households"
    _refused(raw, "a column measure has a column only")
    raw = raw_catalog()
    del raw["measures"]["benefit_gaps"]["denominator"]
    _refused(raw, "a ratio has a numerator and a denominator only")
    raw = raw_catalog()
    raw["measures"]["red_warnings"]["colour"] = "#ff0000"
    _refused(raw, "Extra inputs are not permitted")


def test_every_measure_has_a_catalog_layer_and_protected_counts() -> None:
    assert list(MEASURES) == list(catalog().measures)
    assert DEFAULT_MEASURE in MEASURES
    for key, measure in MEASURES.items():
        assert measure.layer in catalog().layers, key
        assert catalog().get(measure.layer).geometry == "polygon", key
        assert measure.counts, key
        assert set(measure.counts) <= set(PROTECTED_COLUMNS), key


def test_measures_compose_the_same_sql_from_the_catalog() -> None:
    def text(key: str) -> str:
        return MEASURES[key].expression.as_string(None)

    assert text("warnings_per_100") == (
        '100.0 * ("r"."warnings_red" + "r"."warnings_orange" + "r"."warnings_yellow")'
        ' / NULLIF("r"."households", 0)'
    )
    assert text("unsafe_housing") == (
        '100.0 * "r"."unsafe_housing" / NULLIF("r"."housing_assessed", 0)'
    )
    assert text("income_growth") == '"r"."income_growth_mom"'
    assert (MEASURES["red_warnings"].is_count, MEASURES["red_warnings"].decimals) == (True, 0)
    assert MEASURES["income_median"].higher_is_worse is False


def test_the_measure_switcher_lists_the_catalogs_measures() -> None:
    links = measure_links(View("331122")).children[1:]  # after the heatmap switch
    assert [link.id["index"] for link in links] == list(catalog().measures)


def test_the_download_menu_offers_the_layer_of_the_measure_first() -> None:
    planner = User("planner", "Planner", Role.PLANNER, "331122")
    for key in ("unsafe_water", "warnings_per_100"):
        menu = download_menu(planner, "331122", "en", MEASURES[key].layer)
        rows = menu.children[1].children
        first = rows[0].children[1].id["index"]
        assert first.split(".")[0] == MEASURES[key].layer
        assert len(rows) == len(catalog().layers)


def test_the_allowlisted_rollup_columns_exist(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'rollup'"
    ).fetchall()
    types = dict(rows)
    missing = set(ROLLUP_COLUMNS) - set(types)
    assert not missing, missing
    assert {types[c] for c in ROLLUP_COLUMNS} <= {"integer", "numeric", "real", "bigint"}
