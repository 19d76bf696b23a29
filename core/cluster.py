"""The embedded PostgreSQL + PostGIS cluster: find the binaries, initialise, start, stop, report."""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from core.errors import ClusterError, PostgresNotInstalled
from core.settings import DatabaseSettings

#: What a Debian/Ubuntu machine needs for the embedded cluster.
DEBIAN_PACKAGES = "postgresql-15 postgresql-15-postgis-3"
INSTALL_HINT = (
    "onemap needs the PostgreSQL server and PostGIS. On Debian/Ubuntu install them with:\n"
    f"    sudo apt-get install {DEBIAN_PACKAGES}\n"
    "or point onemap at an existing PostGIS with DATABASE_URL=postgresql://…"
)
#: PostgreSQL refuses to run as root; as root we run the server as this system user.
SERVER_OS_USER = "postgres"
#: Where a root-run cluster lives when the checkout is unreachable for the server user.
FALLBACK_ROOT = Path("/var/lib/onemap")


@dataclass(frozen=True, slots=True)
class PgInstall:
    """A PostgreSQL server installation on this machine."""

    bindir: Path
    sharedir: Path
    version: str

    @property
    def has_postgis(self) -> bool:
        """True if the PostGIS extension is installed for this server."""
        return (self.sharedir / "extension" / "postgis.control").is_file()


@dataclass(frozen=True, slots=True)
class ClusterLocation:
    """Where the embedded cluster keeps its files, and why there."""

    state_dir: Path
    data_dir: Path
    note: str

    @property
    def log_file(self) -> Path:
        """The server log, beside the data folder."""
        return self.state_dir / f"{self.data_dir.name}.log"

    @property
    def password_file(self) -> Path:
        """The superuser password, beside the data folder, readable by its owner only."""
        return self.state_dir / f"{self.data_dir.name}.pw"

    @property
    def app_password_file(self) -> Path:
        """The web app role's password (``onemap_app``), beside the superuser's."""
        return self.state_dir / f"{self.data_dir.name}.app.pw"


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    """What ``onemap db status`` reports."""

    location: ClusterLocation
    initialised: bool
    running: bool
    pid: int | None
    port: int
    install: PgInstall | None


def running_as_root() -> bool:
    """True when this process is root (then the server runs as ``postgres``)."""
    return os.geteuid() == 0


def _version_of(bindir: Path) -> str:
    out = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=False
    ).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    return match.group(0) if match else ""


def _candidate_bindirs(explicit: Path | None) -> list[Path]:
    if explicit is not None:
        return [explicit]
    found: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.strip():
            found.append(Path(out.stdout.strip()))
    # Debian keeps each major version under /usr/lib/postgresql/N/bin; prefer the newest.
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    found.extend(versions)
    postgres = shutil.which("postgres")
    if postgres:
        found.append(Path(postgres).resolve().parent)
    return found


def _sharedir_for(bindir: Path) -> Path:
    pg_config = bindir / "pg_config"
    if pg_config.is_file():
        out = subprocess.run(
            [str(pg_config), "--sharedir"], capture_output=True, text=True, check=False
        )
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    # Debian layout (/usr/lib/postgresql/15/bin → /usr/share/postgresql/15), then a plain prefix.
    debian = Path("/usr/share/postgresql") / bindir.parent.name
    return debian if debian.is_dir() else bindir.parent / "share" / "postgresql"


def find_postgres(bindir: Path | None = None, *, require_postgis: bool = True) -> PgInstall:
    """Find the PostgreSQL server binaries (and PostGIS) on this machine.

    Parameters
    ----------
    bindir
        A folder with ``initdb``, ``pg_ctl`` and ``postgres``; searched for when None.
    require_postgis
        Also require the PostGIS extension files.

    Raises
    ------
    PostgresNotInstalled
        With a message naming the packages to install.
    """
    for candidate in _candidate_bindirs(bindir):
        if all((candidate / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            install = PgInstall(candidate, _sharedir_for(candidate), _version_of(candidate))
            if require_postgis and not install.has_postgis:
                raise PostgresNotInstalled(
                    f"PostGIS is not installed for PostgreSQL {install.version} "
                    f"(no {install.sharedir}/extension/postgis.control).\n{INSTALL_HINT}"
                )
            return install
    where = str(bindir) if bindir else "pg_config, /usr/lib/postgresql/*/bin, PATH"
    raise PostgresNotInstalled(
        f"PostgreSQL server binaries not found (looked in {where}).\n{INSTALL_HINT}"
    )


def _server_can_reach(path: Path) -> bool:
    """True if the server user can enter every folder on the way to ``path``."""
    probe = path
    while not probe.exists():
        probe = probe.parent
    result = subprocess.run(
        ["runuser", "-u", SERVER_OS_USER, "--", "test", "-x", str(probe)],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


def locate(settings: DatabaseSettings) -> ClusterLocation:
    """Decide where the embedded cluster lives.

    As root the server runs as ``postgres``, which cannot enter a checkout under a mode-700 home;
    then the cluster moves to ``/var/lib/onemap/<hash of the wanted path>/``.
    """
    wanted = settings.data_dir.expanduser().absolute()
    if running_as_root() and not _server_can_reach(wanted.parent):
        digest = hashlib.sha256(str(wanted).encode()).hexdigest()[:12]
        state = FALLBACK_ROOT / digest
        note = f"{wanted} is not reachable by the {SERVER_OS_USER} user; using {state / 'pg'}"
        return ClusterLocation(state, state / "pg", note)
    return ClusterLocation(wanted.parent, wanted, "")


def _run(
    args: list[str], *, as_server: bool, check: bool = True
) -> subprocess.CompletedProcess[str]:
    command = ["runuser", "-u", SERVER_OS_USER, "--", *args] if as_server else args
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise ClusterError(
            f"{' '.join(args[:2])} failed ({result.returncode}): "
            f"{(result.stderr or result.stdout).strip()[-2000:]}"
        )
    return result


def _prepare_state_dir(location: ClusterLocation, as_server: bool) -> None:
    location.state_dir.mkdir(parents=True, exist_ok=True)
    if as_server:
        shutil.chown(location.state_dir, SERVER_OS_USER, SERVER_OS_USER)
        location.state_dir.chmod(0o700)


def superuser_password(location: ClusterLocation) -> str:
    """The password of the cluster's superuser, made at initialisation."""
    try:
        return location.password_file.read_text().strip()
    except FileNotFoundError as error:
        raise ClusterError(
            f"no password file at {location.password_file}: is the cluster initialised? "
            "Run `onemap db start`."
        ) from error


def initialise(settings: DatabaseSettings, install: PgInstall, location: ClusterLocation) -> None:
    """Run ``initdb`` for a new cluster with a random superuser password (scram-sha-256)."""
    as_server = running_as_root()
    _prepare_state_dir(location, as_server)
    password = secrets.token_urlsafe(24)
    location.password_file.write_text(password + "\n")
    location.password_file.chmod(0o600)
    if as_server:
        shutil.chown(location.password_file, SERVER_OS_USER, SERVER_OS_USER)
    _run(
        [
            str(install.bindir / "initdb"),
            "-D",
            str(location.data_dir),
            "-U",
            settings.user,
            f"--pwfile={location.password_file}",
            "--auth-host=scram-sha-256",
            "--auth-local=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ],
        as_server=as_server,
    )


def _server_options(settings: DatabaseSettings) -> str:
    options = [
        f"-p {settings.port}",
        f"-c listen_addresses={settings.host}",
        "-c unix_socket_directories=''",
        "-c shared_buffers=512MB",
        "-c work_mem=64MB",
        "-c maintenance_work_mem=512MB",
        "-c max_wal_size=4GB",
        "-c jit=off",
        # A private, single-node cluster: no replicas to feed, so tables created and filled in
        # one transaction (the ETL's and derive's fresh month tables) skip the WAL.
        "-c wal_level=minimal",
        "-c max_wal_senders=0",
    ]
    if not settings.fsync:
        options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
    return " ".join(options)


def status(settings: DatabaseSettings) -> ClusterStatus:
    """Report whether the embedded cluster exists and runs."""
    location = locate(settings)
    try:
        install: PgInstall | None = find_postgres(settings.pg_bindir, require_postgis=False)
    except PostgresNotInstalled:
        install = None
    initialised = _is_initialised(location)
    pid = _running_pid(location, install)
    return ClusterStatus(location, initialised, pid is not None, pid, settings.port, install)


def _is_initialised(location: ClusterLocation) -> bool:
    try:
        return (location.data_dir / "PG_VERSION").is_file()
    except PermissionError:  # a data folder of another user: not ours to use
        return False


def _running_pid(location: ClusterLocation, install: PgInstall | None) -> int | None:
    if install is None or not location.data_dir.exists():
        return None
    result = _run(
        [str(install.bindir / "pg_ctl"), "status", "-D", str(location.data_dir)],
        as_server=running_as_root(),
        check=False,
    )
    match = re.search(r"PID: (\d+)", result.stdout)
    return int(match.group(1)) if result.returncode == 0 and match else None


def start(settings: DatabaseSettings) -> ClusterStatus:
    """Initialise (first time) and start the embedded cluster; reuse it when already running.

    Raises
    ------
    PostgresNotInstalled
        When PostgreSQL or PostGIS is missing.
    ClusterError
        When the server does not start (the log's tail is in the message).
    """
    install = find_postgres(settings.pg_bindir)
    location = locate(settings)
    if not _is_initialised(location):
        initialise(settings, install, location)
    current = status(settings)
    if current.running:
        _ensure_database(settings, location)  # it may have been dropped since
        return current
    as_server = running_as_root()
    # A server killed hard leaves postmaster.pid behind; pg_ctl copes, so start plainly.
    result = _run(
        [
            str(install.bindir / "pg_ctl"),
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(location.data_dir),
            "-l",
            str(location.log_file),
            "-o",
            _server_options(settings),
        ],
        as_server=as_server,
        check=False,
    )
    if result.returncode != 0:
        tail = _log_tail(location)
        hint = ""
        if "Address already in use" in tail:
            hint = (
                f"\nport {settings.port} is taken by another program: stop it or choose "
                "another port with ONEMAP_DB_PORT"
            )
        raise ClusterError(f"PostgreSQL did not start: {result.stderr.strip()}\n{tail}{hint}")
    _ensure_database(settings, location)
    return status(settings)


def _log_tail(location: ClusterLocation, lines: int = 15) -> str:
    try:
        return "\n".join(location.log_file.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def stop(settings: DatabaseSettings) -> bool:
    """Stop the embedded cluster; return False if it was not running."""
    current = status(settings)
    if not current.running or current.install is None:
        return False
    _run(
        [
            str(current.install.bindir / "pg_ctl"),
            "stop",
            "-w",
            "-m",
            "fast",
            "-D",
            str(current.location.data_dir),
        ],
        as_server=running_as_root(),
    )
    return True


def dsn(settings: DatabaseSettings, database: str | None = None) -> str:
    """The connection string of the embedded cluster (password included)."""
    location = locate(settings)
    password = quote(superuser_password(location), safe="")
    name = database or settings.name
    return f"postgresql://{quote(settings.user)}:{password}@{settings.host}:{settings.port}/{name}"


def _ensure_database(settings: DatabaseSettings, location: ClusterLocation) -> None:
    import psycopg  # noqa: PLC0415 — keep `onemap db status` free of driver start-up
    from psycopg import sql  # noqa: PLC0415

    with psycopg.connect(dsn(settings, "postgres"), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (settings.name,)
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(settings.name)))


def current_os_user() -> str:
    """The OS user the server runs as."""
    return SERVER_OS_USER if running_as_root() else getpass.getuser()
