"""Settings of the assistance loop: response deadlines, pairing load, door requests, photos."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AssistanceSettings(BaseSettings):
    """Deadlines by warning level, pairing cap and door-form limits (docs/assistance.md)."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_ASSIST_", extra="ignore")

    #: Hours within which a warning must be answered (acknowledged and visited), by level.
    red_hours: float = Field(default=3.0, gt=0)
    orange_hours: float = Field(default=24.0, gt=0)
    yellow_hours: float = Field(default=72.0, gt=0)
    #: Hours for a benefit gap (代办) and for a request from the household's door.
    gap_hours: float = Field(default=168.0, gt=0)
    request_hours: float = Field(default=24.0, gt=0)
    #: At most this many households per official (the UI names who is over).
    max_households_per_official: int = Field(default=30, ge=1)
    #: The door form: longest text, requests per plate and per address per hour.
    request_max_chars: int = Field(default=500, ge=10, le=2000)
    requests_per_plate_hour: int = Field(default=3, ge=1)
    requests_per_ip_hour: int = Field(default=10, ge=1)

    def hours_for(self, level: str) -> float:
        """The response deadline in hours of a warning level."""
        return {"red": self.red_hours, "orange": self.orange_hours, "yellow": self.yellow_hours}[
            level
        ]


@lru_cache(maxsize=1)
def get_assist_settings() -> AssistanceSettings:
    """The process-wide assistance settings, read from the environment on first use."""
    return AssistanceSettings()


class PhotoSettings(BaseSettings):
    """Photos of a home visit (``ONEMAP_PHOTO_…``, docs/assistance.md)."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_PHOTO_", extra="ignore")

    #: Where the photos are kept: outside the web root, served only by the audited route.
    #: A relative path is relative to the working directory (like ``.onemap/pg``).
    dir: Path = Path(".onemap/photos")
    #: The largest upload accepted, in bytes (a phone's JPEG is 2–4 MB).
    max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, le=50 * 1024 * 1024)
    #: The most pixels a photo may declare (a small file can decode to a huge image).
    max_pixels: int = Field(default=40_000_000, ge=10_000, le=150_000_000)
    #: Photos per visit.
    max_per_visit: int = Field(default=4, ge=1, le=20)
    #: JPEG quality of the re-encoded photo.
    jpeg_quality: int = Field(default=85, ge=50, le=95)

    @property
    def max_megabytes(self) -> str:
        """The byte cap in MB, as a person reads it ("5", "2.5")."""
        return f"{self.max_bytes / (1024 * 1024):g}"

    @property
    def max_request_bytes(self) -> int:
        """The largest visit form the web server reads: every photo at the cap, plus 1 MB."""
        return self.max_per_visit * self.max_bytes + 1024 * 1024


@lru_cache(maxsize=1)
def get_photo_settings() -> PhotoSettings:
    """The process-wide photo settings, read from the environment on first use."""
    return PhotoSettings()
