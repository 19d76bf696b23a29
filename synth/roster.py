"""The officials' roster feed (结对干部花名册): who may be paired, their work phone and villages.

One row per official: ``official_id, name, work_phone, villages, position`` (villages joined
with ``;``). Written beside the month's department feeds by :func:`write_roster`; loaded with
``onemap pairing roster FILE`` (docs/feeds.md, docs/assistance.md). Work phones are synthetic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from synth.population import Population, rng_for

ROSTER_PREFIX = "officials_roster"
_POSITIONS = ("驻村干部", "乡镇干部", "县直部门干部")


def roster_frame(pop: Population, index: int) -> pd.DataFrame:
    """The roster of month ``index``: each official with the villages of their households."""
    hh, off = pop.households, pop.officials
    present = pop.active(index)
    village_codes = pop.villages.code[hh.village[present]]
    frame = pd.DataFrame({"official": hh.official[present], "village": village_codes})
    villages = frame.groupby("official")["village"].agg(lambda v: ";".join(sorted(set(v))))
    rng = rng_for(pop.seed, "roster", 0)
    n = off.id.size
    phones = rng.integers(0, 10_000_000, n)
    positions = rng.choice(len(_POSITIONS), n, p=[0.6, 0.3, 0.1])
    return pd.DataFrame(
        {
            "official_id": off.id,
            "name": off.name,
            # Zhejiang landline area codes start 057x: an office number, never a personal one.
            "work_phone": [f"0578-{p:07d}" for p in phones],
            "villages": [villages.get(i, "") for i in range(n)],
            "position": np.asarray(_POSITIONS)[positions],
        }
    )


def write_roster(pop: Population, index: int, month: str, out_dir: Path) -> Path:
    """Write the roster CSV (UTF-8) of month ``index`` into ``out_dir``; return its path."""
    path = Path(out_dir) / f"{ROSTER_PREFIX}_{month}.csv"
    roster_frame(pop, index).to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
    return path
