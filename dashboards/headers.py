"""Security headers on every response, and the request id that ties responses to audit rows.

The Content-Security-Policy allows scripts from this site only: Dash's one inline script (the
renderer's start) is served as a file instead (:mod:`dashboards.app`). Styles allow
``'unsafe-inline'``: Leaflet and plotly write ``<style>`` elements and style attributes at run
time; no script can be injected through that.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Flask, Response, g, request

#: Responses of these paths always hold personal data or session state: never cached.
NO_STORE_PREFIXES = (
    "/_dash-update-component",
    "/_dash-layout",
    "/h/",
    "/audit",
    "/login",
    "/supervision/",
    "/downloads/",
    "/wall/login",
)
#: The callbacks and layouts of the pages beside the map (``/stats/_dash-layout`` …).
NO_STORE_SUFFIXES = ("/_dash-update-component", "/_dash-layout")
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), fullscreen=(self)"
)
#: The household sheet records a visit with the browser's location (issue 11): only there may
#: the page ask for it.
GEOLOCATION_PATHS = ("/inbox/household/",)
FIELD_PERMISSIONS_POLICY = PERMISSIONS_POLICY.replace("geolocation=()", "geolocation=(self)")


def content_security_policy(tile_url: str | None = None) -> str:
    """The CSP; a configured basemap's origin may serve images."""
    images = ["'self'", "data:", "blob:"]
    if tile_url:
        parts = urlsplit(tile_url.replace("{s}", "a"))
        if parts.scheme in {"http", "https"} and parts.netloc:
            host = parts.netloc.split("{")[0] or parts.netloc
            images.append(f"{parts.scheme}://{host}")
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": images,
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def start_request() -> None:
    """Give the request its id (a fresh random one: never taken from the client)."""
    g.request_id = uuid.uuid4().hex
    g.personal = False


def secure_headers(policy: str) -> Callable[[Response], Response]:
    """An ``after_request`` hook setting the security headers with ``policy`` as the CSP."""

    def add(response: Response) -> Response:
        headers = response.headers
        headers["Content-Security-Policy"] = policy
        headers["X-Frame-Options"] = "DENY"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"
        headers["Permissions-Policy"] = (
            FIELD_PERMISSIONS_POLICY
            if request.path.startswith(GEOLOCATION_PATHS)
            else PERMISSIONS_POLICY
        )
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Cross-Origin-Resource-Policy"] = "same-origin"
        headers["X-Request-Id"] = str(g.get("request_id", ""))
        if request.is_secure:
            headers["Strict-Transport-Security"] = "max-age=31536000"
        path = request.path
        if (
            g.get("personal")
            or path.startswith(NO_STORE_PREFIXES)
            or path.endswith(NO_STORE_SUFFIXES)
        ):
            # A route may have said more (a photo: ``private, no-store``); never less.
            if "no-store" not in headers.get("Cache-Control", ""):
                headers["Cache-Control"] = "no-store"
            headers["Pragma"] = "no-cache"
        return response

    return add


def install(server: Flask, tile_url: str | None = None) -> None:
    """Request ids and security headers on ``server`` (the first hook: it runs first)."""
    server.before_request(start_request)
    server.after_request(secure_headers(content_security_policy(tile_url)))
