"""`secure-msg serve --workers N`: N server processes on one PostgreSQL database, one port.

The parent opens no database and serves nothing. It reserves the port (bound with SO_REUSEPORT,
never listening, so it takes no connections; port 0 picks one for all), starts N
`secure-msg serve --worker` children that listen on it with SO_REUSEPORT (the kernel spreads
new connections over them), forwards their output, and prints its own
`secure-msg: listening on …` once every one is ready. SIGTERM or SIGINT is forwarded to each
child; when any child exits the parent stops the others and exits with the first non-zero code.

SQLite is refused: its one group-commit writer belongs to one process, and the limits, live
events and outbox owners that hold across processes do so on PostgreSQL
(docs/operations.md, "Several processes on one database").
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import IO

from secure_msg.config import Config
from secure_msg.errors import ConfigError

READY = re.compile(r"^secure-msg: worker \d+ ready on ")
MAX_WORKERS = 64
START_TIMEOUT = 120.0


def check_workers(config: Config, workers: int) -> None:
    """Refuse what --workers cannot do, naming why, before any process starts."""
    if not 1 <= workers <= MAX_WORKERS:
        raise ConfigError("--workers", f"must be between 1 and {MAX_WORKERS}")
    if workers == 1:
        return
    if config.storage.backend != "postgresql":
        raise ConfigError(
            "storage.backend",
            f"--workers {workers} needs \"postgresql\": on SQLite one process owns the "
            "database's single writer, and only on PostgreSQL do rate limits and writes hold "
            "across processes (docs/operations.md, \"Several processes on one database\")")
    if not hasattr(socket, "SO_REUSEPORT"):
        raise ConfigError("--workers", "needs SO_REUSEPORT (Linux) to share one port")


def _reserve(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _forward(out: IO[str], ready: list[str], lock: threading.Condition) -> None:
    """Copy a child's stdout to ours; its ready line is counted, not copied (the parent prints
    the one `listening on` line)."""
    for line in out:
        if READY.match(line):
            with lock:
                ready.append(line)
                lock.notify_all()
        else:
            print(line, end="", flush=True)


def run_workers(config_path: Path, config: Config, workers: int,
                url_for: Callable[[int], str]) -> int:
    """`url_for(port)`: the address to announce (cli_server.base_url)."""
    check_workers(config, workers)
    reserved = _reserve(config.server.host, config.server.port)
    port = int(reserved.getsockname()[1])
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    children: list[subprocess.Popen[str]] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    ready: list[str] = []
    lock = threading.Condition()
    try:
        for _ in range(workers):
            child = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "secure_msg", "serve", "--worker",
                 "--config", str(config_path)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
                env={**os.environ, "SECURE_MSG_SERVER_PORT": str(port)})
            children.append(child)
            assert child.stdout is not None
            threading.Thread(target=_forward, args=(child.stdout, ready, lock),
                             daemon=True).start()
        with lock:
            deadline = time.monotonic() + START_TIMEOUT
            while (len(ready) < workers and not stop.is_set()
                   and all(c.poll() is None for c in children) and time.monotonic() < deadline):
                lock.wait(0.1)
        if len(ready) == workers:
            pids = " ".join(str(c.pid) for c in children)
            print(f"secure-msg: listening on {url_for(port)} ({workers} workers: {pids})",
                  flush=True)
        reserved.close()  # the children hold the port now
        return _wait(children, stop)
    finally:
        reserved.close()
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()


def _wait(children: list[subprocess.Popen[str]], stop: threading.Event) -> int:
    """Until every child has exited; the first to exit (or a signal) stops the rest."""
    while all(c.poll() is None for c in children) and not stop.is_set():
        time.sleep(0.1)
    if not stop.is_set():  # a child exited by itself; after a signal each has had its one
        for child in children:  # (a second would find its handler gone during shutdown)
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
    codes = [child.wait() for child in children]
    first = next((code for code in codes if code != 0), 0)
    return 128 - first if first < 0 else first  # killed by signal n: 128 + n, as a shell says
