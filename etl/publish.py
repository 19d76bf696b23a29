"""Load a month's facts into fresh tables with COPY; publish them by swapping partitions.

The swap is one short transaction, so readers see the old month or the new one.
"""

from __future__ import annotations

import hashlib
import io
import re
from concurrent.futures import Future, ThreadPoolExecutor

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql
from pyarrow import csv

from core.month import Month

#: Fact tables in load order, with their columns in COPY order.
FACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "household": (
        "month",
        "household_id",
        "county_code",
        "village_code",
        "status",
        "size",
        "head_token",
        "address",
        "phone_masked",
        "geo_precision",
        "geom",
        "hazard",
        "poverty_cause",
        "poverty_cause_secondary",
    ),
    "person": (
        "month",
        "person_token",
        "household_id",
        "county_code",
        "id_masked",
        "name",
        "relation",
        "sex",
        "birth_date",
    ),
    "income_survey": (
        "month",
        "household_id",
        "county_code",
        "income_per_capita",
        "household_size",
    ),
    "medical_claim": (
        "month",
        "claim_no",
        "person_token",
        "household_id",
        "county_code",
        "claim_date",
        "category",
        "total_cost",
        "reimbursed",
        "out_of_pocket",
    ),
    "education": (
        "month",
        "person_token",
        "household_id",
        "county_code",
        "stage",
        "school_name",
        "term",
        "fees",
        "aid",
    ),
    "disability": (
        "month",
        "person_token",
        "household_id",
        "county_code",
        "disability_type",
        "grade",
        "certificate_date",
    ),
    "bank_deposit": (
        "month",
        "person_token",
        "household_id",
        "county_code",
        "bank_code",
        "balance",
        "check_date",
    ),
    "housing_appraisal": (
        "month",
        "household_id",
        "county_code",
        "grade",
        "appraisal_date",
        "source_crs",
        "geom",
    ),
    "water_safety": ("month", "household_id", "county_code", "safe", "source_type", "check_date"),
    "subsidy": ("month", "household_id", "county_code", "policy_code", "amount", "department"),
    "visit": (
        "month",
        "official_id",
        "official_name",
        "household_id",
        "county_code",
        "visit_time",
        "source_crs",
        "geom",
        "content",
    ),
    "disaster_event": (
        "month",
        "event_id",
        "county_code",
        "event_type",
        "event_date",
        "severity",
        "geom",
    ),
    "disaster_event_village": ("month", "event_id", "village_code", "county_code"),
}
_LOAD_NAME = re.compile(r"^([a-z_]+)_(\d{6})_load(\d+)$")


def partition_name(table: str, month: Month) -> str:
    """The partition of ``table`` holding ``month`` (``household_202406``)."""
    return f"{table}_{month.year:04d}{month.number:02d}"


def load_name(table: str, month: Month, run_id: int) -> str:
    """The table a run loads before publishing (``household_202406_load17``)."""
    return f"{partition_name(table, month)}_load{run_id}"


def csv_bytes(frame: pd.DataFrame, columns: tuple[str, ...]) -> bytes:
    """The rows as CSV for COPY: NULL is an unquoted empty field, '' a quoted one.

    Written by Arrow (several times faster than pandas); dates without a time are written as
    dates, timestamps to the second.
    """
    table = pa.Table.from_pandas(frame.loc[:, list(columns)], preserve_index=False)
    for position, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            column = table.column(position)
            as_seconds = pc.cast(column, pa.timestamp("s"))
            midnight = pc.all(
                pc.equal(pc.cast(pc.cast(column, pa.date32()), pa.timestamp("s")), as_seconds)
            ).as_py()
            table = table.set_column(
                position,
                field.name,
                pc.cast(column, pa.date32()) if midnight is not False else as_seconds,
            )
    sink = io.BytesIO()
    csv.write_csv(table, sink, csv.WriteOptions(include_header=False, quoting_style="needed"))
    return sink.getvalue()


def load_table(
    conn: psycopg.Connection, table: str, month: Month, run_id: int, frame: pd.DataFrame
) -> tuple[str, str]:
    """Create the run's load table for ``table`` and COPY ``frame`` into it.

    The table carries a CHECK on the month, so attaching it as a partition needs no scan. In a
    transaction (the table is new in it), the rows are copied frozen.

    Returns
    -------
    tuple of str
        The load table's name and the SHA-256 of the rows loaded (CSV as sent to COPY).
    """
    name = load_name(table, month, run_id)
    columns = FACT_COLUMNS[table]
    conn.execute(
        sql.SQL(
            "CREATE TABLE {load} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS,"
            " CHECK (month = {month}::date))"
        ).format(
            load=sql.Identifier(name),
            parent=sql.Identifier(table),
            month=sql.Literal(month.first_day),
        )
    )
    data = csv_bytes(frame, columns)
    frozen = conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    options = sql.SQL("FORMAT csv, FREEZE" if frozen else "FORMAT csv")
    statement = sql.SQL("COPY {load} ({columns}) FROM STDIN WITH ({options})").format(
        load=sql.Identifier(name),
        columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
        options=options,
    )
    with conn.cursor().copy(statement) as copy:
        for start in range(0, len(data), 1 << 22):
            copy.write(data[start : start + (1 << 22)])
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(name)))
    return name, hashlib.sha256(data).hexdigest()


_PARENT_INDEXES = """
SELECT i.indisprimary, am.amname, array_agg(a.attname ORDER BY k.ord)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_am am ON am.oid = c.relam
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = %s::regclass
GROUP BY i.indexrelid, i.indisprimary, am.amname
ORDER BY i.indexrelid
"""
_INDEX_METHODS = {"btree": sql.SQL("btree"), "gist": sql.SQL("gist")}


def build_indexes(conn: psycopg.Connection, table: str, loaded: str) -> None:
    """Give a load table the indexes of its partitioned parent, read from the catalog.

    Built before publishing, so attaching the partition only links indexes: the publishing
    transaction stays short.
    """
    for primary, method, columns in conn.execute(_PARENT_INDEXES, (table,)).fetchall():
        column_list = sql.SQL(", ").join(map(sql.Identifier, columns))
        if primary:
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
                    sql.Identifier(loaded), column_list
                )
            )
        else:
            conn.execute(
                sql.SQL("CREATE INDEX ON {} USING {} ({})").format(
                    sql.Identifier(loaded), _INDEX_METHODS[method], column_list
                )
            )


class Loader:
    """Loads fact tables on its own connection in a background thread.

    The server copies and indexes one table while the caller validates the next feed: the two
    cores both work.
    """

    def __init__(self, conn: psycopg.Connection, month: Month, run_id: int) -> None:
        info = conn.info
        self._conn = psycopg.connect(
            psycopg.conninfo.make_conninfo(info.dsn, password=info.password or None),
            autocommit=True,
            application_name="onemap-etl-loader",
        )
        self._month, self._run_id = month, run_id
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="onemap-loader")
        self._futures: dict[str, Future[tuple[str, str]]] = {}

    def submit(self, table: str, frame: pd.DataFrame) -> None:
        """Queue ``frame`` to be loaded into ``table``'s load table."""
        self._futures[table] = self._executor.submit(self._load, table, frame)

    def _load(self, table: str, frame: pd.DataFrame) -> tuple[str, str]:
        # One transaction: the table is created and filled in it, so COPY FREEZE writes rows
        # already frozen (no hint-bit writes when the month is first read) and, on the
        # embedded cluster (wal_level=minimal), skips the WAL.
        with self._conn.transaction():
            name, digest = load_table(self._conn, table, self._month, self._run_id, frame)
            build_indexes(self._conn, table, name)
        return name, digest

    def results(self) -> tuple[dict[str, str], dict[str, str]]:
        """Wait for every table; return (table → load table, table → content digest)."""
        names: dict[str, str] = {}
        digests: dict[str, str] = {}
        for table, future in self._futures.items():
            names[table], digests[table] = future.result()
        return names, digests

    def close(self) -> None:
        """Stop: drop queued work, wait for the running table, close the connection."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._conn.close()


def content_checksum(digests: dict[str, str]) -> str:
    """One checksum over every table's rows: equal inputs give equal checksums."""
    digest = hashlib.sha256()
    for table in sorted(digests):
        digest.update(f"{table}:{digests[table]}\n".encode())
    return digest.hexdigest()


def swap_partitions(conn: psycopg.Connection, tables: dict[str, str], month: Month) -> None:
    """Replace the published partitions of ``month`` by the loaded tables.

    Runs inside the caller's transaction, so readers see the old month or the new one.
    """
    for table, loaded in tables.items():
        partition = partition_name(table, month)
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (partition,)).fetchone()
        if exists and exists[0]:
            conn.execute(
                sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(
                    sql.Identifier(table), sql.Identifier(partition)
                )
            )
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(partition)))
        conn.execute(
            sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                sql.Identifier(loaded), sql.Identifier(partition)
            )
        )
        conn.execute(
            sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES IN ({})").format(
                sql.Identifier(table), sql.Identifier(partition), sql.Literal(month.first_day)
            )
        )


def drop_load_tables(conn: psycopg.Connection, keep_runs: set[int]) -> list[str]:
    """Drop load tables left by runs that are not running any more (killed, failed)."""
    names = [
        r[0]
        for r in conn.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname ~ '_load[0-9]+$'"
        ).fetchall()
    ]
    dropped = []
    for name in names:
        match = _LOAD_NAME.match(name)
        if match and int(match.group(3)) not in keep_runs and match.group(1) in FACT_COLUMNS:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
            dropped.append(name)
    return dropped
