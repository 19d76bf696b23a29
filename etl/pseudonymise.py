"""Pseudonymise national IDs: a keyed HMAC token for matching, a masked form for display.

The raw ID is used only in memory while a feed is read; neither it nor anything from which it
could be recomputed without the key is ever written.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import numpy as np
import pandas as pd

from core.settings import EtlSettings

#: Hex characters kept of the HMAC-SHA256: 128 bits, collision-free for a province.
TOKEN_LENGTH = 32


def load_key(settings: EtlSettings) -> bytes:
    """Return the HMAC key: from settings, else from the key file (made once, mode 0600)."""
    if settings.hmac_key is not None:
        return settings.hmac_key.get_secret_value().encode()
    path = Path(settings.key_file)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two first runs racing must not end up with two keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_bytes().strip()


class Pseudonymiser:
    """Turns normalised national IDs into stable tokens with a secret key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the HMAC key must be at least 16 bytes")
        self._key = key
        # Tokens already computed, by ID: a person recurs in many feeds of a month.
        self._known: dict[str, str] = {}

    def token(self, national_id: str) -> str:
        """Return the token of one normalised ID."""
        return hmac.digest(self._key, national_id.encode(), hashlib.sha256).hex()[:TOKEN_LENGTH]

    def tokens(self, ids: pd.Series) -> pd.Series:
        """Return the tokens of a column of normalised IDs."""
        values = ids.to_numpy(dtype=object)
        known = self._known
        for value in pd.unique(values):
            if value not in known:
                known[value] = self.token(value)
        # A dict, not an index: growing a pandas index rebuilt its hash table for every feed.
        return pd.Series([known[v] for v in values], index=ids.index, dtype=object)


def mask_ids(ids: pd.Series) -> pd.Series:
    """Mask IDs for display: first 4 and last 4 characters, 10 stars between (``3311**…123X``).

    Anything shorter than 9 characters is starred out completely.
    """
    text = ids.fillna("").astype(str)
    long_enough = text.str.len() >= 9
    masked = text.str[:4] + "*" * 10 + text.str[-4:]
    return pd.Series(np.where(long_enough, masked, "****"), index=ids.index)
