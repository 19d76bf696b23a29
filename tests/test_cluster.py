"""The embedded cluster as a newcomer meets it: `onemap db start/status/url/stop`, and the clear
message when PostgreSQL or PostGIS is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from core import cluster
from core.settings import DatabaseSettings, Settings

ONEMAP = [sys.executable, "-m", "onemap"]


def run_cli(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | env
    return subprocess.run(
        [*ONEMAP, *args], capture_output=True, text=True, env=full_env, timeout=timeout, check=False
    )


def test_database_url_wins_over_embedded_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db.example:5432/x")
    monkeypatch.setenv("ONEMAP_DB_PORT", "6000")
    settings = Settings()
    assert settings.db.url is not None
    assert settings.db.url.get_secret_value() == "postgresql://u:p@db.example:5432/x"
    assert settings.db.port == 6000


def test_pool_bounds_are_validated() -> None:
    with pytest.raises(ValueError, match="pool_max_size"):
        DatabaseSettings(pool_min_size=5, pool_max_size=2)


def test_start_twice_reuses_one_cluster(tmp_path: Path) -> None:
    data_dir = tmp_path / "cluster" / "pg"
    env = {"ONEMAP_DB_DATA_DIR": str(data_dir), "ONEMAP_DB_PORT": "55491", "ONEMAP_DB_FSYNC": "0"}
    settings = DatabaseSettings(url=None, data_dir=data_dir, port=55491)
    location = cluster.locate(settings)
    try:
        first = run_cli("db", "start", env=env)
        assert first.returncode == 0, first.stderr + first.stdout
        assert "started" in first.stdout
        pid = cluster.status(settings).pid
        second = run_cli("db", "start", env=env)
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stdout
        assert cluster.status(settings).pid == pid  # the same postmaster, not a second one
        status = run_cli("db", "status", env=env)
        assert status.returncode == 0
        assert f"pid {pid}" in status.stdout
        assert str(location.data_dir) in status.stdout.replace("\n", "")
        url = run_cli("db", "url", env=env).stdout.strip()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_setting('listen_addresses')").fetchone() == (
                "127.0.0.1",
            )
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            assert conn.execute("SELECT postgis_lib_version()").fetchone()[0].startswith("3")
        # A database dropped while the server runs is made again by the next start.
        with psycopg.connect(cluster.dsn(settings, "postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(settings.name))
            )
        assert run_cli("db", "start", env=env).returncode == 0
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (settings.name,)
        if cluster.running_as_root():
            # tmp_path lives under a mode-700 folder: the server user cannot enter it.
            assert location.data_dir != data_dir
            assert "not reachable" in status.stdout.replace("\n", " ")
        assert run_cli("db", "stop", env=env).stdout.strip() == "stopped"
        assert cluster.status(settings).running is False
        assert run_cli("db", "status", env=env).returncode == 3
    finally:
        cluster.stop(settings)
        shutil.rmtree(location.state_dir, ignore_errors=True)


def _fake_bindir(root: Path, *, with_postgis: bool) -> Path:
    bindir = root / "bin"
    share = root / "share"
    (share / "extension").mkdir(parents=True)
    if with_postgis:
        (share / "extension" / "postgis.control").write_text("# fake\n")
    bindir.mkdir()
    for tool in ("initdb", "pg_ctl"):
        (bindir / tool).write_text("#!/bin/sh\nexit 1\n")
    (bindir / "postgres").write_text("#!/bin/sh\necho 'postgres (PostgreSQL) 15.9'\n")
    (bindir / "pg_config").write_text(f"#!/bin/sh\necho '{share}'\n")
    for tool in bindir.iterdir():
        tool.chmod(0o755)
    return bindir


def test_missing_postgis_gives_one_clear_message(tmp_path: Path) -> None:
    bindir = _fake_bindir(tmp_path, with_postgis=False)
    result = run_cli(
        "db",
        "start",
        env={
            "ONEMAP_DB_PG_BINDIR": str(bindir),
            "ONEMAP_DB_DATA_DIR": str(tmp_path / "pg"),
        },
    )
    assert result.returncode != 0
    message = " ".join(result.stderr.split())
    assert "PostGIS is not installed" in message
    assert "postgresql-15 postgresql-15-postgis-3" in message
    assert "Traceback" not in result.stderr


def test_missing_postgresql_gives_one_clear_message(tmp_path: Path) -> None:
    result = run_cli(
        "db",
        "start",
        env={
            "ONEMAP_DB_PG_BINDIR": str(tmp_path / "nowhere"),
            "ONEMAP_DB_DATA_DIR": str(tmp_path / "pg"),
        },
    )
    assert result.returncode != 0
    message = " ".join(result.stderr.split())
    assert "PostgreSQL server binaries not found" in message
    assert "postgresql-15 postgresql-15-postgis-3" in message
    assert "Traceback" not in result.stderr
