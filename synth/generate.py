"""Entry point: write one month of synthetic department feeds, with defects, and their manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import geopandas as gpd

from synth.defects import TARGETS, inject
from synth.feeds import FEEDS, MonthContext
from synth.hazard import HAZARD_FILE_NAME, write_hazard_raster
from synth.population import build_population, month_index, rng_for
from synth.writer import FORMATS, FeedFile, SynthManifest, write_feed, write_manifest

SCALE_HOUSEHOLDS: dict[str, int] = {"full": 496_000, "demo": 49_600}
MAX_DEFECT_RATE = 0.5


def generate(
    villages: gpd.GeoDataFrame,
    *,
    scale: Literal["demo", "full"],
    month: str,
    seed: int,
    out_dir: Path,
    defect_rate: float = 0.01,
) -> SynthManifest:
    """Write every department feed for ``month`` into ``out_dir`` and return the manifest.

    The same ``(villages, scale, month, seed, defect_rate)`` always gives byte-identical files.
    Consecutive months of one seed describe the same households: about 0.5 % leave and as many
    join each month, incomes drift, new claims and disabilities appear.

    Parameters
    ----------
    villages : geopandas.GeoDataFrame
        Columns ``code`` (12 digits), ``name``, ``town_name``, ``county_code`` (6 digits),
        ``county_name``, ``city_name`` and polygon geometry in EPSG:4326.
    scale : {"demo", "full"}
        ``full``: 496,000 households (~760,000 people); ``demo``: 49,600 households.
    month : str
        ``YYYY-MM`` between 2024-01 and 2027-12.
    seed : int
        Non-negative seed; fixes the households and every monthly draw.
    out_dir : pathlib.Path
        Folder for the feeds and ``manifest.json``; created if missing.
    defect_rate : float, default 0.01
        Share of rows per feed given one defect (see ``docs/feeds.md``); 0 writes clean feeds.

    Returns
    -------
    SynthManifest
        The files written, their row and defect counts, and population totals for the month.

    Raises
    ------
    ValueError
        On an unknown scale, a month out of range, a negative seed, a defect rate outside
        ``[0, 0.5]`` or malformed villages.
    """
    if scale not in SCALE_HOUSEHOLDS:
        raise ValueError(f"scale must be 'demo' or 'full', got {scale!r}")
    if not 0.0 <= defect_rate <= MAX_DEFECT_RATE:
        raise ValueError(f"defect_rate must lie in [0, {MAX_DEFECT_RATE}], got {defect_rate}")
    month_index(month)  # fail on a bad month before the costly part
    pop = build_population(villages, n_households=SCALE_HOUSEHOLDS[scale], seed=seed)
    ctx = MonthContext.create(pop, month)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    known = set(pop.villages.code.tolist())
    files = tuple(_write_feed(ctx, feed, out_dir, defect_rate, known) for feed in FEEDS)
    hh = pop.households
    manifest = SynthManifest(
        seed=seed,
        month=month,
        scale=scale,
        defect_rate=defect_rate,
        households=int(ctx.households.size),
        people=int(ctx.people.size),
        households_entered=int((hh.entry == ctx.index).sum()) if ctx.index else 0,
        households_exited=int((hh.exit == ctx.index).sum()),
        files=files,
        out_dir=out_dir,
    )
    write_manifest(manifest)
    # The emergency department's hazard layer travels with every month (same seed, same file).
    write_hazard_raster(out_dir / HAZARD_FILE_NAME, seed=seed)
    return manifest


def _write_feed(
    ctx: MonthContext, feed: str, out_dir: Path, defect_rate: float, known_villages: set[str]
) -> FeedFile:
    """Build, damage and write one feed; describe the file for the manifest."""
    injected = inject(
        FEEDS[feed](ctx),
        TARGETS[feed],
        rate=defect_rate,
        rng=rng_for(ctx.pop.seed, f"defects:{feed}", ctx.index),
        known_villages=known_villages,
    )
    fmt = FORMATS[feed]
    name = f"{feed}_{ctx.month}{fmt.suffix}"
    digest = write_feed(
        injected.frame,
        fmt,
        out_dir / name,
        month=ctx.month,
        header_repeat_at=injected.header_repeat_at,
        blank_row_at=injected.blank_row_at,
    )
    return FeedFile(
        feed=feed,
        path=name,
        format=fmt.kind,
        encoding=fmt.encoding,
        header_row=fmt.header_row,
        rows=len(injected.frame),
        defects=injected.counts,
        sha256=digest,
    )
