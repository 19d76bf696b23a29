"""Fast membership and lookup on large string columns.

pandas' ``isin`` and ``map`` iterate in Python over Arrow strings; a hash index does not.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd


def as_index(values: Iterable[str] | pd.Index) -> pd.Index:
    """A unique index to test membership against."""
    index = values if isinstance(values, pd.Index) else pd.Index(list(values))
    return index if index.is_unique else index.drop_duplicates()


def is_member(values: pd.Series, allowed: pd.Index) -> pd.Series:
    """``values.isin(allowed)``, via the index's hash table."""
    return pd.Series(allowed.get_indexer(values) >= 0, index=values.index)


def in_index(keys: pd.Index, allowed: pd.Index) -> np.ndarray:
    """``keys.isin(allowed)`` as a boolean array, via the hash table when ``allowed`` is unique.

    ``isin`` on Arrow-backed strings builds a scalar per allowed value: 0.36 s against 0.02 s
    for 50,000 household numbers.
    """
    if allowed.is_unique:
        return np.asarray(allowed.get_indexer(keys) >= 0)
    return np.asarray(keys.isin(allowed))


def lookup(keys: pd.Series, table: pd.Series) -> pd.Series:
    """``keys.map(table)`` for a table with a unique index; missing keys give None."""
    positions = table.index.get_indexer(keys)
    found = table.to_numpy(dtype=object)[positions]
    found[positions < 0] = None
    return pd.Series(found, index=keys.index, dtype=object)
