"""Settings of the assistance loop: response deadlines, pairing load, door requests."""

from __future__ import annotations

from functools import lru_cache

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
