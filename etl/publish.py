"""Load a month's facts into fresh tables with COPY; publish them by swapping partitions.

The swap is one short transaction, so readers see the old month or the new one.
"""

from __future__ import annotations

import hashlib
import io
import re

import pandas as pd
import psycopg
from psycopg import sql

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
_NULL = r"\N"
_LOAD_NAME = re.compile(r"^([a-z_]+)_(\d{6})_load(\d+)$")


def partition_name(table: str, month: str) -> str:
    """The partition of ``table`` holding ``month`` (``household_202406``)."""
    return f"{table}_{month.replace('-', '')}"


def load_name(table: str, month: str, run_id: int) -> str:
    """The table a run loads before publishing (``household_202406_load17``)."""
    return f"{partition_name(table, month)}_load{run_id}"


def load_table(
    conn: psycopg.Connection, table: str, month: str, run_id: int, frame: pd.DataFrame
) -> str:
    """Create the run's load table for ``table`` and COPY ``frame`` into it; return its name.

    The table carries a CHECK on the month, so attaching it as a partition needs no scan.
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
            month=sql.Literal(f"{month}-01"),
        )
    )
    buffer = io.StringIO()
    frame.loc[:, list(columns)].to_csv(buffer, header=False, index=False, na_rep=_NULL)
    statement = sql.SQL("COPY {load} ({columns}) FROM STDIN WITH (FORMAT csv, NULL {null})").format(
        load=sql.Identifier(name),
        columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
        null=sql.Literal(_NULL),
    )
    with conn.cursor().copy(statement) as copy:
        data = buffer.getvalue()
        for start in range(0, len(data), 1 << 22):
            copy.write(data[start : start + (1 << 22)])
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(name)))
    return name


def content_checksum(conn: psycopg.Connection, tables: dict[str, str]) -> str:
    """A checksum of every row of the loaded tables, independent of row order."""
    digest = hashlib.sha256()
    for table in sorted(tables):
        row = conn.execute(
            sql.SQL(
                "SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)::numeric), 0) FROM {} t"
            ).format(sql.Identifier(tables[table]))
        ).fetchone()
        assert row is not None
        digest.update(f"{table}:{row[0]}:{row[1]}\n".encode())
    return digest.hexdigest()


def swap_partitions(conn: psycopg.Connection, tables: dict[str, str], month: str) -> None:
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
                sql.Identifier(table), sql.Identifier(partition), sql.Literal(f"{month}-01")
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
