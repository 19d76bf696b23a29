"""Replay a Dash callback the way dash-renderer does: POST /_dash-update-component."""

from __future__ import annotations

import re
from functools import cache
from typing import Any


@cache
def callback_map() -> dict[str, Any]:
    """The app's callbacks (every app built by ``create_app`` has the same)."""
    from dashboards.app import create_app

    return dict(create_app().callback_map)


def inputs_of(spec: dict[str, Any]) -> str:
    """A callback's name in tests: its inputs, ``id.property`` joined by commas."""
    return ",".join(f"{i['id']}.{i['property']}" for i in spec["inputs"])


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@cache
def page_callbacks() -> dict[str, dict[str, Any]]:
    """The callbacks of each page beside the map (statistics, wall, supervision) by URL prefix.

    Each page is mounted on a bare server to read its declarations; the requests go to the
    real app's server.
    """
    import dash
    from flask import Flask

    from dashboards import stats_page, supervision_page, wall_page

    apps = [
        page.mount(Flask(__name__), dash.Dash) for page in (stats_page, wall_page, supervision_page)
    ]
    return {str(app.config.requests_pathname_prefix): dict(app.callback_map) for app in apps}


def dash_update_as(client: Any, inputs: str, values: dict[str, Any]) -> Any:
    """POST the map's callback named by ``inputs`` with ``values`` (``id.property`` → value).

    The CSRF header is read from the client's ``_csrf_token`` cookie, as dash-renderer does.
    """
    key = next(k for k, v in callback_map().items() if inputs_of(v) == inputs)
    return dash_update_key(client, "/", key, values)


def dash_update_key(client: Any, prefix: str, key: str, values: dict[str, Any]) -> Any:
    """POST the callback ``key`` (its outputs) of the page at ``prefix`` with ``values``.

    ``prefix`` is ``/`` for the map, else a key of :func:`page_callbacks`.
    """
    spec = (callback_map() if prefix == "/" else page_callbacks()[prefix])[key]
    # A duplicate output is sent with the "@hash" of its key, as the renderer does.
    found = re.search(r"@([0-9a-f]{64})", key)
    suffix = f"@{found.group(1)}" if found else ""
    outputs = [
        {
            "id": o.component_id,
            "property": o.component_property + (suffix if o.allow_duplicate else ""),
        }
        for o in _list(spec["output"])
    ]
    body = {
        "output": key,
        "outputs": outputs if isinstance(spec["output"], list) else outputs[0],
        "inputs": [
            {**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in spec["inputs"]
        ],
        "state": [{**s, "value": values.get(f"{s['id']}.{s['property']}")} for s in spec["state"]],
        "changedPropIds": [f"{i['id']}.{i['property']}" for i in spec["inputs"]],
    }
    token = client.get_cookie("_csrf_token").value
    return client.post(prefix + "_dash-update-component", json=body, headers={"X-CSRFToken": token})
