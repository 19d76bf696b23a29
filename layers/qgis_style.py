"""A catalog layer's style as QGIS reads it: QML, and the GeoPackage ``layer_styles`` row.

QGIS opens a GeoPackage styled when its ``layer_styles`` table holds a default style for the
layer (the table QGIS itself writes with "Save style → in database"). The colours and legend
labels come from the catalog, so QGIS, the map and the exports agree.
"""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

from layers.catalog import Language, Layer, StyleClass

_LAYER_STYLES_DDL = """
CREATE TABLE IF NOT EXISTS layer_styles (
    id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), f_table_schema TEXT(256),
    f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT,
    styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30),
    update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
)
"""


def _rgba(hex_colour: str) -> str:
    value = hex_colour.lstrip("#")
    r, g, b = (int(value[i : i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},255"


def _hex(rgba: str) -> str:
    r, g, b = (int(v) for v in rgba.split(",")[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def _option(parent: ET.Element, name: str, value: str) -> None:
    ET.SubElement(parent, "Option", type="QString", name=name, value=value)


def _symbol(parent: ET.Element, index: int, colour: str, geometry: str) -> None:
    kind = "marker" if geometry == "point" else "fill"
    symbol = ET.SubElement(
        parent, "symbol", type=kind, name=str(index), alpha="1", clip_to_extent="1"
    )
    layer_class = "SimpleMarker" if kind == "marker" else "SimpleFill"
    layer = ET.SubElement(symbol, "layer", {"class": layer_class, "enabled": "1", "pass": "0"})
    options = ET.SubElement(layer, "Option", type="Map")
    _option(options, "color", _rgba(colour))
    _option(options, "outline_color", "80,80,80,255")
    if kind == "marker":
        _option(options, "name", "circle")
        _option(options, "size", "2")
        _option(options, "outline_width", "0.1")
    else:
        _option(options, "style", "solid")
        _option(options, "outline_width", "0.2")


def _label(entry: StyleClass, language: Language) -> str:
    return entry.zh if language == "zh" else f"{entry.en}"


def layer_qml(layer: Layer, language: Language = "zh") -> str:
    """The layer's style as a QGIS QML document (categorised or graduated renderer)."""
    root = ET.Element("qgis", version="3.28.0", styleCategories="Symbology")
    style = layer.style
    categorical = style.kind == "categorical"
    renderer = ET.SubElement(
        root,
        "renderer-v2",
        type="categorizedSymbol" if categorical else "graduatedSymbol",
        attr=style.column,
        symbollevels="0",
        forceraster="0",
        enableorderby="0",
    )
    if not categorical:
        renderer.set("graduatedMethod", "GraduatedColor")
    entries = ET.SubElement(renderer, "categories" if categorical else "ranges")
    symbols = ET.SubElement(renderer, "symbols")
    lower = 0.0
    for index, entry in enumerate(style.classes):
        if categorical:
            ET.SubElement(
                entries,
                "category",
                value=str(entry.value),
                symbol=str(index),
                label=_label(entry, language),
                render="true",
            )
        else:
            upper = float(entry.value)
            ET.SubElement(
                entries,
                "range",
                lower=f"{lower:g}",
                upper=f"{upper:g}",
                symbol=str(index),
                label=_label(entry, language),
                render="true",
            )
            lower = upper
        _symbol(symbols, index, entry.colour, layer.geometry)
    return "<!DOCTYPE qgis>\n" + ET.tostring(root, encoding="unicode")


def qml_colours(qml: str) -> tuple[str, str, dict[str, str] | list[tuple[float, float, str]]]:
    """Read a QML back: the renderer's attribute, kind, and its colour per category or range.

    Returns
    -------
    tuple
        ``(attribute, "categorical", {value: "#rrggbb"})`` or
        ``(attribute, "graduated", [(lower, upper, "#rrggbb"), …])``.
    """
    root = ET.fromstring(qml.split("\n", 1)[1] if qml.startswith("<!DOCTYPE") else qml)
    renderer = root.find("renderer-v2")
    if renderer is None:
        raise ValueError("no renderer in the style")
    colours: dict[str, str] = {}
    for symbol in renderer.iter("symbol"):
        for option in symbol.iter("Option"):
            if option.get("name") == "color":
                colours[symbol.get("name", "")] = _hex(option.get("value", "0,0,0"))
    attribute = renderer.get("attr", "")
    if renderer.get("type") == "categorizedSymbol":
        return (
            attribute,
            "categorical",
            {c.get("value", ""): colours[c.get("symbol", "")] for c in renderer.iter("category")},
        )
    ranges = [
        (float(r.get("lower", 0)), float(r.get("upper", 0)), colours[r.get("symbol", "")])
        for r in renderer.iter("range")
    ]
    return attribute, "graduated", ranges


def add_layer_style(path: Path, layer: Layer, table: str, description: str) -> None:
    """Store the layer's QML as the default style of ``table`` in the GeoPackage at ``path``."""
    with sqlite3.connect(path) as db:
        db.execute(_LAYER_STYLES_DDL)
        db.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier)"
            " VALUES ('layer_styles', 'attributes', 'layer_styles')"
        )
        geometry_column = db.execute(
            "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (table,)
        ).fetchone()
        db.execute(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name,"
            " f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description,"
            " owner) VALUES ('', '', ?, ?, ?, ?, '', 1, ?, 'onemap')",
            (
                table,
                geometry_column[0] if geometry_column else "geom",
                f"{layer.key} (onemap)",
                layer_qml(layer),
                description,
            ),
        )
