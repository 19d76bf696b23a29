"""Secrets kept in small files: made once at random (mode 0600), then read back every time."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def read_or_create(path: Path, *, nbytes: int = 32) -> str:
    """Return the secret stored in ``path``, creating it at random on first use.

    Parameters
    ----------
    path
        The file; its folder is created when missing.
    nbytes
        Random bytes in a new secret (written URL-safe base64, about 1.3 characters a byte).

    Returns
    -------
    str
        The secret, without surrounding whitespace.
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two first uses racing must not end up with two secrets.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(nbytes) + "\n")
    secret = path.read_text().strip()
    if not secret:  # a racing creator has not written yet, or the file was emptied
        raise RuntimeError(f"the secret file {path} is empty")
    return secret
