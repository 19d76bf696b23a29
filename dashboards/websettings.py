"""Settings of the web layer: the session key, idle timeout, cookies and the audit page size."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from core import keyfile


class WebSettings(BaseSettings):
    """Logins in the browser (``ONEMAP_WEB_…``); the password rules live in ``AuthSettings``."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_WEB_", extra="ignore")

    #: Signs the session cookie. When unset, a random key is made once in secret_key_file
    #: (a new key logs everybody out).
    secret_key: SecretStr | None = None
    secret_key_file: Path = Path(".onemap/session.key")
    #: A session unused this long ends (the issue asks for at most 60 minutes).
    idle_minutes: int = Field(default=30, ge=1, le=60)
    #: A session ends this long after the login, however busy.
    max_session_hours: int = Field(default=12, ge=1, le=24)
    #: Secure cookies: None marks them Secure when the request came over HTTPS; set True
    #: behind a TLS-terminating proxy that does not forward the scheme.
    secure_cookies: bool | None = None
    #: Rows per page of the audit page.
    audit_page_size: int = Field(default=100, ge=10, le=1000)
    #: The wall screen shows each child of its area this long (seconds) on its tour.
    wall_tour_seconds: float = Field(default=20.0, ge=0.2, le=3600)
    #: The wall asks this often (seconds) whether a new month or new warnings were published.
    wall_poll_seconds: float = Field(default=30.0, ge=1, le=3600)

    def session_key(self) -> str:
        """The key that signs session cookies."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        return keyfile.read_or_create(self.secret_key_file, nbytes=32)


@lru_cache(maxsize=1)
def get_web_settings() -> WebSettings:
    """The web settings, read from the environment on first use."""
    return WebSettings()
