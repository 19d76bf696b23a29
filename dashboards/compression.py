"""Response compression (flask-compress): Dash's JS bundles and our GeoJSON shrink 4–8×.

Static bundles are compressed once and kept in memory (their URLs carry a version); data
responses are compressed per request. PNG tiles and GeoTIFFs are already compressed and are
left alone.
"""

from __future__ import annotations

import threading

from flask import Flask, Request
from flask_compress import Compress

#: Path prefixes whose responses never change for a given URL (Dash fingerprints them).
_STATIC_PREFIXES = ("/_dash-component-suites/", "/assets/")
_NOT_CACHED = ""


class StaticBundleCache:
    """A flask-compress cache backend that keeps compressed static bundles only."""

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        """The compressed body for ``key`` (never for uncached keys)."""
        if key.endswith(";" + _NOT_CACHED):
            return None
        with self._lock:
            return self._data.get(key)

    def set(self, key: str, value: bytes) -> None:
        """Keep ``value`` when ``key`` names a static bundle."""
        if key.endswith(";" + _NOT_CACHED):
            return
        with self._lock:
            self._data[key] = value


def cache_key(request: Request) -> str:
    """The cache key of a static bundle (its full URL), or the don't-cache marker."""
    if request.path.startswith(_STATIC_PREFIXES):
        return request.full_path
    return _NOT_CACHED


#: What is worth compressing: text, JSON and SVG (PNG and GeoTIFF are compressed already).
MIMETYPES = [
    "text/html",
    "text/css",
    "text/plain",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/geo+json",
    "image/svg+xml",
]


def enable_compression(server: Flask) -> None:
    """Compress text responses with brotli or gzip, whichever the browser accepts."""
    server.config.update(
        COMPRESS_MIMETYPES=MIMETYPES,
        COMPRESS_ALGORITHM=["br", "gzip"],
        COMPRESS_ALGORITHM_STREAMING=["br", "deflate"],
        COMPRESS_BR_LEVEL=5,
        COMPRESS_CACHE_BACKEND=StaticBundleCache,
        COMPRESS_CACHE_KEY=cache_key,
    )
    Compress(server)
