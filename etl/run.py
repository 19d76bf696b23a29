"""`onemap etl run`: read, validate, pseudonymise, geocode, load and publish one month."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import psycopg
import shapely
from psycopg.types.json import Jsonb

from core.errors import FeedFailed, FeedUnreadable, OneMapError
from core.month import Month
from etl import publish, transform
from etl.feedspec import FEEDS, HAZARD_FILE_NAME, FeedSpec
from etl.frames import as_index, in_index, lookup
from etl.pseudonymise import Pseudonymiser
from etl.read import RawFeed, read_feed
from etl.validate import Checked, References, validate

#: One ETL run per month at a time (advisory lock namespace).
_LOCK_NAMESPACE = 7_402_113


@dataclass
class FeedReport:
    """What happened to one feed's rows: read = loaded + quarantined + merged, always."""

    feed: str
    file: str
    file_format: str
    encoding: str | None
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    rows_merged: int
    rows_fixed: dict[str, int]
    seconds: float
    top_reasons: list[tuple[str, int]] = field(default_factory=list)
    #: Blank rows skipped (not counted in rows_read).
    rows_skipped: int = 0
    #: What the department should know although nothing stopped (header-only file, conflicts).
    warnings: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    """The outcome of one run."""

    run_id: int | None
    month: Month
    status: str
    reports: list[FeedReport]
    content_checksum: str | None
    households: int
    people: int
    seconds: float
    stage_seconds: dict[str, float]


Progress = Callable[[str, str], None]


def _no_progress(_stage: str, _detail: str) -> None:
    return None


def find_files(directory: Path, month: Month) -> dict[str, Path]:
    """Locate every feed's file for ``month``; a missing feed stops the run before any work."""
    if not directory.is_dir():
        raise FeedUnreadable(str(directory), "no such folder")
    found: dict[str, Path] = {}
    for spec in FEEDS:
        candidates = [directory / name for name in spec.file_pattern(month)]
        present = [p for p in candidates if p.is_file()]
        if not present:
            raise FeedUnreadable(
                candidates[0].name,
                f"missing: feed {spec.name} ({spec.title_zh}) not found in {directory}",
            )
        found[spec.name] = present[0]
    return found


def files_checksum(files: dict[str, Path]) -> str:
    """SHA-256 over the names and contents of the month's files."""
    digest = hashlib.sha256()
    for feed in sorted(files):
        digest.update(f"{feed}:{files[feed].name}:".encode())
        digest.update(hashlib.sha256(files[feed].read_bytes()).digest())
    return digest.hexdigest()


def _places(conn: psycopg.Connection, month: Month, directory: Path) -> transform.Places:
    rows = conn.execute(
        "SELECT code, ST_AsBinary(geom) FROM admin_area WHERE level = 'village' ORDER BY code"
    ).fetchall()
    villages = pd.Series(shapely.from_wkb([r[1] for r in rows]), index=[r[0] for r in rows])
    gps = conn.execute(
        "SELECT household_id, ST_X(geom), ST_Y(geom) FROM household"
        " WHERE month = %s::date AND geo_precision = 'gps'",
        (month.previous().first_day,),
    ).fetchall()
    previous = pd.DataFrame(gps, columns=["household_id", "lon", "lat"]).set_index("household_id")
    hazard = directory / HAZARD_FILE_NAME
    return transform.Places(villages, previous, hazard if hazard.is_file() else None)


def _mark_abandoned(conn: psycopg.Connection) -> None:
    """Runs whose process died are abandoned; their load tables are dropped."""
    conn.execute(
        "UPDATE etl_run SET status = 'abandoned', finished_at = now(),"
        " message = 'the process stopped before publishing'"
        " WHERE status = 'running'"
        " AND backend_pid NOT IN (SELECT pid FROM pg_stat_activity)"
    )
    alive = {
        r[0] for r in conn.execute("SELECT run_id FROM etl_run WHERE status = 'running'").fetchall()
    }
    publish.drop_load_tables(conn, alive)


def _report(spec: FeedSpec, raw: RawFeed, checked: Checked, seconds: float) -> FeedReport:
    fixed = {k: v for k, v in checked.fixed.items() if v}
    if raw.repeated_headers:
        fixed["repeated_header_skipped"] = raw.repeated_headers
    reasons = checked.rejects["rule"].value_counts().head(8) if len(checked.rejects) else None
    return FeedReport(
        feed=spec.name,
        file=raw.path.name,
        file_format=raw.file_format,
        encoding=raw.encoding,
        rows_read=len(raw.frame),
        rows_loaded=len(checked.clean),
        rows_quarantined=len(checked.rejects),
        rows_merged=checked.merged,
        rows_fixed=fixed,
        seconds=round(seconds, 3),
        top_reasons=[(str(k), int(v)) for k, v in reasons.items()] if reasons is not None else [],
        rows_skipped=raw.blank_rows,
        warnings=list(checked.warnings),
    )


@contextmanager
def _naming(path: Path) -> Iterator[None]:
    """An unexpected error while a feed is processed names the file (in etl_run.message too)."""
    try:
        yield
    except OneMapError:
        raise
    except Exception as error:
        raise FeedFailed(path.name, f"{type(error).__name__}: {error}") from error


def _read(path: Path, spec: FeedSpec) -> RawFeed:
    """Read a feed's file; a header-only file stops the run where the contract says so."""
    raw = read_feed(
        path, spec.column_names, prose=frozenset(c.name for c in spec.columns if c.prose)
    )
    if not len(raw.frame) and spec.empty == "stop":
        raise FeedUnreadable(
            path.name,
            f"the file holds only its header, no rows: a {spec.name} ({spec.title_zh}) file is"
            " never empty; ask the department to export it again",
        )
    return raw


def _first_reason(rejects: pd.DataFrame, column: str) -> pd.Series:
    """Per value of ``column`` among rejected rows: the rule and line of its first rejection."""
    rows = rejects[rejects[column].fillna("") != ""].sort_values("line")
    rows = rows.drop_duplicates(column)
    return pd.Series(
        (rows["rule"] + " on line " + rows["line"].astype(str)).to_numpy(),
        index=pd.Index(rows[column].to_numpy()),
        dtype=object,
    )


def _roster_references(refs: References, checked: Checked) -> None:
    """What other feeds may refer to: the roster's valid rows, and why the others were not."""
    roster = checked.clean
    refs.households = (
        roster.drop_duplicates("household_no").set_index("household_no")["village_code"].str[:6]
    )
    refs.persons = roster.set_index("person_token")["household_no"]
    households = _first_reason(checked.rejects, "household_no")
    refs.rejected_households = households[~in_index(households.index, refs.households.index)]
    persons = _first_reason(checked.rejects, "person_token")
    refs.rejected_persons = persons[~in_index(persons.index, refs.persons.index)]


def _quarantine_rows(
    run_id: int,
    month: Month,
    *,
    spec: FeedSpec,
    raw: RawFeed,
    checked: Checked,
    counties: pd.Series,
) -> list[tuple[object, ...]]:
    rejects = checked.rejects
    county = pd.Series(None, index=rejects.index, dtype=object)
    if "household_no" in raw.frame:
        county = lookup(raw.frame.loc[rejects.index, "household_no"], counties)
    elif "village_code" in raw.frame:
        county = raw.frame.loc[rejects.index, "village_code"].str[:6]
    return [
        (
            run_id,
            month.first_day,
            spec.name,
            raw.path.name,
            int(line),
            column,
            rule,
            reason,
            None if pd.isna(c) else c,
            Jsonb(row),
        )
        for line, column, rule, reason, c, row in zip(
            rejects["line"],
            rejects["column_name"],
            rejects["rule"],
            rejects["reason"],
            county,
            rejects["row_masked"],
            strict=True,
        )
    ]


def _publish(
    conn: psycopg.Connection,
    run_id: int,
    month: Month,
    *,
    loaded: dict[str, str],
    reports: list[FeedReport],
    quarantine: list[tuple[object, ...]],
    checksum: str,
    households: int,
    people: int,
) -> None:
    with conn.transaction():
        publish.swap_partitions(conn, loaded, month)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO etl_feed_report (run_id, feed, file, file_format, encoding,"
                " rows_read, rows_loaded, rows_quarantined, rows_merged, rows_fixed, seconds,"
                " rows_skipped, warnings)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        run_id,
                        r.feed,
                        r.file,
                        r.file_format,
                        r.encoding,
                        r.rows_read,
                        r.rows_loaded,
                        r.rows_quarantined,
                        r.rows_merged,
                        Jsonb(r.rows_fixed),
                        r.seconds,
                        r.rows_skipped,
                        r.warnings,
                    )
                    for r in reports
                ],
            )
            with cur.copy(
                "COPY quarantine (run_id, month, feed, file, line, column_name, rule, reason,"
                " county_code, row_masked) FROM STDIN"
            ) as copy:
                for row in quarantine:
                    copy.write_row(row)
        conn.execute(
            "INSERT INTO published_month (month, run_id, content_checksum, households, people)"
            " VALUES (%s::date, %s, %s, %s, %s) ON CONFLICT (month) DO UPDATE SET"
            " run_id = excluded.run_id, published_at = now(),"
            " content_checksum = excluded.content_checksum,"
            " households = excluded.households, people = excluded.people",
            (month.first_day, run_id, checksum, households, people),
        )
        conn.execute(
            "UPDATE etl_run SET status = 'published', finished_at = now(),"
            " content_checksum = %s WHERE run_id = %s",
            (checksum, run_id),
        )


def _unchanged(conn: psycopg.Connection, month: Month, checksum: str) -> RunResult | None:
    row = conn.execute(
        "SELECT p.run_id, p.content_checksum, p.households, p.people FROM published_month p"
        " JOIN etl_run r USING (run_id) WHERE p.month = %s::date AND r.files_checksum = %s",
        (month.first_day, checksum),
    ).fetchone()
    if row is None:
        return None
    reports = [
        FeedReport(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            r[7],
            r[8],
            r[9],
            rows_skipped=r[10],
            warnings=list(r[11]),
        )
        for r in conn.execute(
            "SELECT feed, file, file_format, encoding, rows_read, rows_loaded,"
            " rows_quarantined, rows_merged, rows_fixed, seconds, rows_skipped, warnings"
            " FROM etl_feed_report WHERE run_id = %s ORDER BY feed",
            (row[0],),
        ).fetchall()
    ]
    return RunResult(row[0], month, "unchanged", reports, row[1], row[2], row[3], 0.0, {})


def run_month(
    conn: psycopg.Connection,
    directory: Path,
    month: Month | str,
    pseudonymiser: Pseudonymiser,
    *,
    policy_codes: Collection[str],
    force: bool = False,
    progress: Progress = _no_progress,
) -> RunResult:
    """Load one month of department feeds and publish it atomically.

    Every row read is loaded, merged as an exact duplicate, or quarantined with its reason.
    A file that cannot be read stops the run before anything is written; a failure or a kill
    at any later point leaves the published months as they were.

    Parameters
    ----------
    conn
        An autocommit connection used for the whole run.
    directory
        The folder with the month's files (``{feed}_{YYYY-MM}.csv|xlsx``).
    month
        ``YYYY-MM``.
    pseudonymiser
        Turns national IDs into tokens (the key comes from the settings).
    policy_codes
        The policy catalog's codes: subsidy rows paying another code are quarantined. Passed
        in by the caller (etl does not import analytics, which owns the catalog).
    force
        Reload even when the same files were already published for the month.
    progress
        Called with (stage, detail) as the run advances.

    Raises
    ------
    FeedUnreadable
        When a file is missing or cannot be read at all.
    """
    month = Month.coerce(month)
    started = time.perf_counter()
    files = find_files(directory, month)
    checksum = files_checksum(files)
    lock = (_LOCK_NAMESPACE, month.year * 100 + month.number)
    conn.execute("SELECT pg_advisory_lock(%s, %s)", lock)
    try:
        _mark_abandoned(conn)
        if not force and (same := _unchanged(conn, month, checksum)) is not None:
            return same
        run = conn.execute(
            "INSERT INTO etl_run (month, source_dir, files_checksum) VALUES (%s::date, %s, %s)"
            " RETURNING run_id",
            (month.first_day, str(directory), checksum),
        ).fetchone()
        assert run is not None
        run_id = int(run[0])
        try:
            return _run(
                conn,
                run_id,
                files,
                month,
                refs=References(
                    month, pd.Index([]), pseudonymiser, policy_codes=frozenset(policy_codes)
                ),
                progress=progress,
                started=started,
            )
        except BaseException as error:
            conn.execute(
                "UPDATE etl_run SET status = 'failed', finished_at = now(), message = %s"
                " WHERE run_id = %s AND status = 'running'",
                (str(error)[:2000], run_id),
            )
            publish.drop_load_tables(conn, keep_runs=set())
            raise
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s, %s)", lock)


def _run(
    conn: psycopg.Connection,
    run_id: int,
    files: dict[str, Path],
    month: Month,
    *,
    refs: References,
    progress: Progress,
    started: float,
) -> RunResult:
    places = _places(conn, month, next(iter(files.values())).parent)
    refs.villages = as_index(places.villages.index)
    raws: dict[str, RawFeed] = {}
    checks: dict[str, Checked] = {}
    seconds: dict[str, float] = {}
    loader = publish.Loader(conn, month, run_id)
    try:
        # Read every file before publishing anything; the loader copies each feed's facts
        # while the next feed is validated.
        for spec in FEEDS:  # the roster first: it says which households and people exist
            clock = time.perf_counter()
            progress("read", spec.name)
            with _naming(files[spec.name]):
                raws[spec.name] = _read(files[spec.name], spec)
                checked = checks[spec.name] = validate(raws[spec.name], spec, refs)
                if not len(raws[spec.name].frame) and spec.empty == "warn":
                    checked.warnings.insert(0, "the file holds only its header: no rows this month")
                if spec.name == "civil_affairs_roster":
                    roster = checked.clean
                    _roster_references(refs, checked)
                    context = transform.FactContext(month, refs.persons, refs.households, places)
                    loader.submit("person", transform.people(roster, month))
                else:
                    facts = transform.FEED_FACTS[spec.name](checked.clean, context)
                    for table, frame in facts.items():
                        loader.submit(table, frame)
                if spec.name == "housing_appraisal":
                    placed = transform.households(roster, checked.clean, places, month)
                    households = len(placed)
                    loader.submit("household", placed)
            seconds[spec.name] = time.perf_counter() - clock
        progress("load", "waiting for the loader")
        clock = time.perf_counter()
        loaded, digests = loader.results()
        waited = time.perf_counter() - clock
    finally:
        loader.close()
    clock = time.perf_counter()
    progress("publish", str(month))
    checksum = publish.content_checksum(digests)
    reports = [
        _report(spec, raws[spec.name], checks[spec.name], seconds[spec.name]) for spec in FEEDS
    ]
    quarantine = [
        row
        for spec in FEEDS
        for row in _quarantine_rows(
            run_id,
            month,
            spec=spec,
            raw=raws[spec.name],
            checked=checks[spec.name],
            counties=refs.households,
        )
    ]
    people = len(checks["civil_affairs_roster"].clean)
    _publish(
        conn,
        run_id,
        month,
        loaded=loaded,
        reports=reports,
        quarantine=quarantine,
        checksum=checksum,
        households=households,
        people=people,
    )
    stages = {
        "read+validate+transform": sum(seconds.values()),
        "wait for loader": waited,
        "publish": time.perf_counter() - clock,
    }
    return RunResult(
        run_id,
        month,
        "published",
        reports,
        checksum,
        households,
        people,
        time.perf_counter() - started,
        stages,
    )
