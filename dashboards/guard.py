"""Malformed Dash requests get a 4xx: callback bodies checked before Dash reads them.

dash-renderer always sends ``{"output": key, "outputs": …, "inputs": [...], "state": [...],
"changedPropIds": [...]}`` for a callback the app declared, with the declared ids and
properties. Anything else (``null``, a list, an unknown or missing output, a dict where a string
belongs, a 5,000-deep nesting that would exhaust the JSON parser's recursion) is refused here
with :class:`~dashboards.viewer.BadRequest` instead of failing inside Dash with a 500.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from dash.exceptions import DependencyException
from flask import Flask, Response, jsonify, request

from dashboards.errors import BadRequest

CALLBACK_PATH = "/_dash-update-component"
#: Deeper JSON than this is refused before parsing (a callback body nests a few levels).
MAX_DEPTH = 32
#: Larger callback bodies are refused (the biggest real one is a few kilobytes).
MAX_BODY = 256 * 1024


def json_depth(raw: bytes) -> int:
    """The deepest nesting of ``[`` / ``{`` in a JSON text (brackets inside strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _same_id(sent: Any, declared: Any) -> bool:
    if isinstance(declared, str):
        return sent == declared
    # A pattern-matching id: the same keys, each value a string, number or boolean.
    return (
        isinstance(sent, dict)
        and set(sent) == set(declared)
        and all(isinstance(v, str | int | float | bool) for v in sent.values())
    )


def _property(name: Any) -> Any:
    """A property name without the ``@hash`` Dash appends to a duplicate output."""
    return name.split("@", 1)[0] if isinstance(name, str) else name


#: What dash-renderer sends for these properties (``dcc.Location``, ``dcc.Interval``, buttons):
#: text or whole numbers, or nothing. A callback reading them may rely on it.
_VALUE_TYPES: Mapping[str, tuple[type, ...]] = {
    "search": (str,),
    "pathname": (str,),
    "href": (str,),
    "hash": (str,),
    "n_clicks": (int,),
    "n_intervals": (int,),
    "n_clicks_timestamp": (int,),
}


def expect_text(value: Any) -> str | None:
    """A callback value that must be text or nothing (a stored code, a form field).

    Raises
    ------
    BadRequest
        Any other kind of value (dash-renderer never sends one).
    """
    if value is None or isinstance(value, str):
        return value
    raise BadRequest(f"expected text, got {type(value).__name__}")


def _check_value(item: Mapping[str, Any], what: str) -> None:
    kinds = _VALUE_TYPES.get(str(_property(item.get("property"))))
    value = item.get("value")
    if kinds is None or value is None:
        return
    if not isinstance(value, kinds) or isinstance(value, bool):
        raise BadRequest(f"callback {what}: {item.get('property')} is a {type(value).__name__}")


def _check_items(sent: Any, declared: list[Mapping[str, Any]], what: str) -> None:
    if not isinstance(sent, list) or len(sent) != len(declared):
        raise BadRequest(f"callback {what}: {len(declared)} entries expected")
    for item, spec in zip(sent, declared, strict=True):
        if isinstance(item, list):  # ALL / ALLSMALLER wildcards: a list of dicts
            if not all(isinstance(i, dict) for i in item):
                raise BadRequest(f"callback {what}: malformed wildcard entry")
            continue
        if not isinstance(item, dict) or _property(item.get("property")) != _property(
            spec["property"]
        ):
            raise BadRequest(f"callback {what}: entry is not {spec['id']}.{spec['property']}")
        if not _same_id(item.get("id"), spec["id"]):
            raise BadRequest(f"callback {what}: unexpected id {item.get('id')!r}")
        _check_value(item, what)


def _outputs(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    declared = spec["output"] if isinstance(spec["output"], list) else [spec["output"]]
    return [{"id": o.component_id, "property": o.component_property} for o in declared]


def check_body(raw: bytes, callbacks: Mapping[str, Any]) -> None:
    """Refuse a callback body that dash-renderer would never send.

    Raises
    ------
    BadRequest
        Too large, too deep, not JSON, not an object, or not matching a declared callback.
    """
    if len(raw) > MAX_BODY or json_depth(raw) > MAX_DEPTH:
        raise BadRequest("callback body too large or too deeply nested")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise BadRequest(f"callback body is not JSON: {error}") from error
    if not isinstance(body, dict):
        raise BadRequest(f"callback body is a {type(body).__name__}, not an object")
    key = body.get("output")
    if not isinstance(key, str) or key not in callbacks:
        raise BadRequest(f"unknown callback output {key!r}")
    spec = callbacks[key]
    if "callback" not in spec:
        raise BadRequest(f"callback {key!r} runs in the browser")
    outputs = body.get("outputs")
    declared = _outputs(spec)
    sent = outputs if isinstance(spec["output"], list) else [outputs]
    _check_items(sent, declared, "outputs")
    _check_items(body.get("inputs"), spec["inputs"], "inputs")
    _check_items(body.get("state", []), spec.get("state", []), "state")
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        raise BadRequest("changedPropIds must be a list of strings")


def guard_callbacks(
    server: Flask, callbacks: Callable[[], Mapping[str, Any]], path: str = CALLBACK_PATH
) -> None:
    """Check the body of every request to the Dash app's callback ``path`` before Dash reads it.

    Each Dash app on the server (the map, and the pages mounted under their own prefix) has its
    own callback path and map.
    """

    def guard() -> None:
        if request.path == path and request.method == "POST":
            check_body(request.get_data(cache=True), callbacks())

    server.before_request(guard)


def install(server: Flask, callbacks: Callable[[], Mapping[str, Any]]) -> None:
    """Check every callback request of the map's Dash app; unknown bundles are a 404."""
    guard_callbacks(server, callbacks)

    def unknown_bundle(error: DependencyException) -> tuple[Response, int]:
        # Dash raises this for a bundle path it does not serve: a 404, not a 500.
        return jsonify(error="not found"), 404

    server.register_error_handler(DependencyException, unknown_bundle)
