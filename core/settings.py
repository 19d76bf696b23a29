"""Settings for onemap, read from the environment (``ONEMAP_…``) via a cached ``get_settings()``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The province whose geography and data onemap serves (GB/T 2260 code).
PROVINCE_CODE = "330000"


class DatabaseSettings(BaseSettings):
    """Where PostGIS is: an external server (``DATABASE_URL``) or the embedded private cluster."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_DB_", extra="ignore")

    #: An external database; when set it wins and no embedded cluster is used.
    url: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "ONEMAP_DB_URL")
    )
    #: Data folder of the embedded cluster (relative paths are relative to the working directory).
    data_dir: Path = Path(".onemap/pg")
    host: str = "127.0.0.1"
    port: int = Field(default=55432, ge=1024, le=65535)
    name: str = "onemap"
    user: str = "onemap"
    #: Folder holding initdb/pg_ctl/postgres; found on the machine when unset.
    pg_bindir: Path | None = None
    #: Durability can be traded for speed on throw-away clusters (tests, benchmarks).
    fsync: bool = True
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=8, ge=1, le=64)
    application_name: str = "onemap"
    #: The web app's connection (role ``onemap_app``: owns nothing, cannot bypass row-level
    #: security). When unset it is derived from the owner's URL with the app role's password,
    #: which `onemap db start/migrate/init` makes once and keeps in a file.
    app_url: SecretStr | None = None
    #: The app role's password file when DATABASE_URL is set (the embedded cluster keeps it
    #: beside its own password file instead).
    app_password_file: Path = Path(".onemap/app-db.pw")
    app_pool_max_size: int = Field(default=8, ge=1, le=64)

    @field_validator("pool_max_size")
    @classmethod
    def _max_not_below_min(cls, value: int, info: object) -> int:
        data = getattr(info, "data", {})
        if value < data.get("pool_min_size", 0):
            raise ValueError("pool_max_size must be >= pool_min_size")
        return value


class GeographySettings(BaseSettings):
    """How the synthetic towns and villages inside the real counties are drawn."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_GEO_", extra="ignore")

    seed: int = 20240601
    n_towns: int = Field(default=1360, ge=270, le=5000)
    n_villages: int = Field(default=20000, ge=810, le=60000)


class EtlSettings(BaseSettings):
    """The monthly department-feed ETL: pseudonymisation key and load behaviour."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_ETL_", extra="ignore")

    #: Key of the HMAC that turns national IDs into tokens. Keep it secret and stable: a new
    #: key gives every person a new token. When unset, a random key is made once in key_file.
    hmac_key: SecretStr | None = None
    key_file: Path = Path(".onemap/etl-hmac.key")
    #: Where `onemap demo` writes the synthetic feeds it loads.
    demo_dir: Path = Path(".onemap/feeds")
    #: The last demo month, and how many consecutive months `onemap demo` loads up to it.
    demo_month: str = "2024-06"
    demo_months: int = Field(default=6, ge=1, le=24)


class AuthSettings(BaseSettings):
    """Logins: the password KDF (argon2id) and the lockout after failed attempts."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_AUTH_", extra="ignore")

    #: argon2id cost (RFC 9106's second recommendation: 64 MiB, 3 passes, 4 lanes).
    time_cost: int = Field(default=3, ge=1, le=20)
    memory_kib: int = Field(default=65_536, ge=8_192, le=4_194_304)
    parallelism: int = Field(default=4, ge=1, le=16)
    #: This many failed logins within the window lock the account for lock_minutes.
    max_failures: int = Field(default=5, ge=1, le=100)
    window_minutes: int = Field(default=15, ge=1)
    lock_minutes: int = Field(default=15, ge=1)
    min_password_length: int = Field(default=10, ge=8)


class PrivacySettings(BaseSettings):
    """De-identification of exports and planner-facing layers (layers/deidentify.py)."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_PRIVACY_", extra="ignore")

    #: Key of the HMAC that fixes each household's displacement. When unset, a random key is
    #: made once in key_file. A new key moves every displaced point (old exports then average
    #: with new ones): keep it stable.
    displacement_key: SecretStr | None = None
    key_file: Path = Path(".onemap/displacement.key")
    #: Household points move this far (metres), shrinking when the village is too small.
    min_offset_m: float = Field(default=100.0, gt=0)
    max_offset_m: float = Field(default=600.0, gt=0)


class WarningSettings(BaseSettings):
    """Thresholds and weights of the return-to-poverty warnings (docs/analytics.md)."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_WARN_", extra="ignore")

    #: Low-income standard, yuan per person and month.
    standard: float = 1145.0
    #: Illness: the month's out-of-pocket medical cost as a multiple of household income.
    illness_ratio: float = Field(default=1.0, gt=0)
    illness_severe_ratio: float = Field(default=3.0, gt=0)
    illness_points: float = 30.0
    illness_severe_points: float = 45.0
    #: Schooling: net school cost (fees − aid) of the term as a multiple of household income.
    schooling_ratio: float = Field(default=1.0, gt=0)
    schooling_points: float = 20.0
    #: Disaster: inside an event's area, or on a hazard cell at or above the threshold.
    disaster_points: float = 35.0
    hazard_threshold: float = Field(default=0.7, ge=0, le=1)
    hazard_points: float = 15.0
    #: Income: a drop of this many percent month over month, or falling below the standard.
    income_drop_pct: float = Field(default=30.0, gt=0, lt=100)
    income_drop_points: float = 30.0
    income_low_points: float = 25.0
    new_disability_points: float = 25.0
    unsafe_housing_points: float = 20.0
    unsafe_water_points: float = 10.0
    #: Deposits above this many yuan per household member question eligibility.
    deposit_per_person: float = Field(default=50_000.0, gt=0)
    deposit_points: float = 40.0
    #: Levels by total score.
    red: float = 60.0
    orange: float = 40.0
    yellow: float = 25.0
    #: Minutes within which a warning should be acknowledged (the seed's 3-hour target).
    response_target_minutes: int = 180


class MapSettings(BaseSettings):
    """The web app: where it listens and which basemap it draws."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_MAP_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8050, ge=1, le=65535)
    #: An XYZ tile URL (Tianditu with key, OSM, a local tile server). None: boundaries only.
    tile_url: str | None = None
    tile_attribution: str = ""
    #: The address printed into door QR codes (小康码): https://… of the deployed app.
    public_url: str = "http://127.0.0.1:8050"
    debug: bool = False
    #: Request threads of one app process (waitress); keep it near the app pool's size
    #: (``ONEMAP_DB_APP_POOL_MAX_SIZE``) so a thread rarely waits for a connection.
    threads: int = Field(default=8, ge=1, le=64)
    #: App processes sharing the listening socket (one per core is the deployment shape of
    #: docs/deployment.md: a process runs Python on one core at a time).
    workers: int = Field(default=1, ge=1, le=32)
    #: Print the app pool's statistics when the server stops (``make bench`` reads them).
    pool_stats: bool = False


class Settings(BaseSettings):
    """All settings, one object per concern."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_", extra="ignore")

    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    geo: GeographySettings = Field(default_factory=GeographySettings)
    etl: EtlSettings = Field(default_factory=EtlSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    warn: WarningSettings = Field(default_factory=WarningSettings)
    map: MapSettings = Field(default_factory=MapSettings)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read from the environment on first use."""
    return Settings()
