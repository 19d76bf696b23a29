"""The layer download menu and its route: ``/downloads/layers/<layer>.<format>?area=CODE``.

Thin: :func:`layers.export.export_layer` writes the file inside the viewer's scope (audited in
the same transaction, de-identified for roles without portrait rights); here it is streamed
back as an attachment and removed.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dash import html
from flask import Blueprint, Response, request

from core import db
from core.access import User
from dashboards.messages import t
from dashboards.viewer import current_user, mark_personal
from layers.catalog import catalog
from layers.export import EXTENSIONS, FORMATS, MEDIA_TYPES, export_layer
from layers.layerdata import LayerRequest, NotPermitted, parse_month

downloads_api = Blueprint("onemap_downloads", __name__)
#: Formats offered for vector layers in the menu (the COG is the raster layer's only one).
VECTOR_FORMATS = tuple(f for f in FORMATS if f != "cog")


def download_url(layer: str, fmt: str, area: str) -> str:
    """The URL of one layer download."""
    return f"/downloads/layers/{layer}.{fmt}?area={area}"


def _stream(folder: Path, path: Path) -> Iterator[bytes]:
    try:
        with path.open("rb") as file:
            while chunk := file.read(1 << 20):
                yield chunk
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@downloads_api.get("/downloads/layers/<layer>.<fmt>")
def layer_download(layer: str, fmt: str) -> Response:
    """A catalog layer of ``?area=`` (default: the viewer's jurisdiction) as an attachment."""
    user = current_user()
    if not (user.permissions.identified_points or user.permissions.deidentified_layers):
        raise NotPermitted(f"{user.role.value} may not export layers")
    spec = catalog().get(layer)
    area = request.args.get("area") or user.jurisdiction
    folder = Path(tempfile.mkdtemp(prefix="onemap-export-"))
    out = folder / f"onemap-{layer}-{area}{EXTENSIONS.get(fmt, '')}"
    try:
        with db.scoped(user.scope) as conn:
            month = parse_month(request.args.get("month"), conn)
            result = export_layer(
                conn, LayerRequest(spec, area, month, user), fmt, out, route="/downloads"
            )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if not result.deidentified:
        mark_personal()
    response = Response(_stream(folder, out), mimetype=MEDIA_TYPES[fmt])
    name = f"onemap-{layer}-{area}-{month:%Y-%m}{EXTENSIONS[fmt]}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Content-Length"] = str(result.bytes)
    return response


def download_menu(user: User, area: str, lang: str, first: str | None = None) -> Any:
    """A folded menu: each catalog layer with a link per format (synthetic data).

    ``first`` is the catalog layer of the measure on the map: it heads the list.
    """
    if not (user.permissions.identified_points or user.permissions.deidentified_layers):
        return html.Div()
    rows = []
    layers = catalog().layers
    for key in sorted(layers, key=lambda k: k != first):  # stable: catalog order otherwise
        layer = layers[key]
        formats = ("cog",) if layer.geometry == "raster" else VECTOR_FORMATS
        links = [
            html.A(
                fmt.upper(),
                href=download_url(key, fmt, area),
                download="",
                className="download-format",
                id={"type": "layer-download", "index": f"{key}.{fmt}"},
            )
            for fmt in formats
        ]
        rows.append(html.Li([html.Span(layer.title.in_("zh" if lang == "zh" else "en")), *links]))
    return html.Details(
        [
            html.Summary(t("downloads.title", lang)),
            html.Ul(rows),
            html.P(t("downloads.note", lang)),
        ],
        id="layer-downloads",
        className="downloads",
    )
