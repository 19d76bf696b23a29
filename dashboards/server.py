"""Run the app: open the database pool, build the Dash app and serve it with waitress.

With more than one worker the listening socket is opened once and each worker process (forked
before any pool or thread exists) serves it with its own pool and threads: Python runs one
thread at a time per process, so on a 2-core machine two processes use both cores.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
import traceback
from typing import Any

from rich.console import Console

from core import db
from core.settings import MapSettings, get_settings
from dashboards.app import create_app

#: A worker that dies sooner than this after its start is not restarted (it would loop).
_MIN_LIFETIME_S = 10.0


def run(host: str | None = None, port: int | None = None, workers: int | None = None) -> None:
    """Serve the map until interrupted (Dash's debug server when ONEMAP_MAP_DEBUG is set).

    The app connects only as the web app's role (``onemap_app``): it owns no table and every
    query runs under row-level security in the logged-in user's jurisdiction.
    """
    settings = get_settings().map
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    if settings.debug:
        db.open_app_pool()
        Console().print(f"onemap serving at [bold]http://{host}:{port}[/] (debug)")
        create_app().run(host=host, port=port, debug=True)
        return
    listener = socket.create_server((host, port), backlog=1024)
    Console().print(
        f"onemap serving at [bold]http://{host}:{port}[/] (Ctrl+C to stop)"
        + (f" with {workers} workers" if workers > 1 else "")
    )
    if workers == 1:
        _serve(listener, settings)
        return
    db.close_pool()  # no pool, and none of its threads, may cross a fork
    _supervise(listener, settings, workers)


def _serve(listener: socket.socket, settings: MapSettings) -> None:
    """One worker: its own pool and app, serving the shared socket until interrupted."""
    import waitress  # noqa: PLC0415

    db.open_app_pool()
    app = create_app()
    try:
        waitress.serve(app.server, sockets=[listener], threads=settings.threads, ident="onemap")
    except KeyboardInterrupt:
        pass
    finally:
        if settings.pool_stats:
            stats = json.dumps(db.get_app_pool().get_stats())
            print("pool-stats " + stats, flush=True)  # read by bench/load.py


def _fork(listener: socket.socket, settings: MapSettings) -> int:
    pid = os.fork()
    if pid:
        return pid
    # The worker: SIGTERM stops it as Ctrl+C does (waitress ends, the pool's figures print),
    # also when started in the background, where SIGINT comes ignored.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    code = 1
    try:
        _serve(listener, settings)
        code = 0
    except Exception:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        os._exit(code)


def _supervise(listener: socket.socket, settings: MapSettings, workers: int) -> None:
    """Start ``workers`` processes; restart one that dies; stop them all on SIGINT/SIGTERM."""
    started: dict[int, float] = {}
    for _ in range(workers):
        started[_fork(listener, settings)] = time.monotonic()

    def stop(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        while started:
            pid, status = os.wait()
            born = started.pop(pid, None)
            if born is None:
                continue
            if time.monotonic() - born < _MIN_LIFETIME_S:
                raise SystemExit(f"an app worker died at start (status {status}): stopping")
            Console(stderr=True).print(f"app worker {pid} died (status {status}): restarted")
            started[_fork(listener, settings)] = time.monotonic()
    except KeyboardInterrupt:
        pass
    finally:
        for pid in started:
            os.kill(pid, signal.SIGTERM)
        for pid in list(started):
            os.waitpid(pid, 0)
