"""The real server as a subprocess on an ephemeral port, for end-to-end tests and benchmarks.

    def test_something(secure_msg_server: ServerProcess) -> None:
        response = httpx_or_aiohttp.get(secure_msg_server.url("/healthz"))

`start_server(workdir)` writes a config, keys and a database under `workdir`, starts
`python -m secure_msg serve` (or `module_args`, e.g. WRITE_PROBE) with port 0, and returns once
/readyz answers. Its stderr (the JSON
log) goes to `log_path`, so a test can scan logs for canaries; `db_files()` lists the database
and its -wal/-shm files for the same purpose. `kill()` is kill -9; `restart()` starts a new
process on the same files (a new port).

The pytest fixtures `secure_msg_server` and `server_factory` come from tests/conftest.py.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from secure_msg.crypto.rng import system_rng
from secure_msg.server_keys import generate_key_files, key_files_present

_LISTENING = re.compile(r"listening on (http://\S+)")


def write_test_config(workdir: Path, extra_toml: str = "", server_toml: str = "") -> Path:
    """A config for a throw-away server: free port, files under `workdir`, cheap Argon2.
    `server_toml` goes into [server], `extra_toml` after the last table."""
    config = workdir / "secure-msg.toml"
    config.write_text(
        "[server]\nhost = \"127.0.0.1\"\nport = 0\n" + server_toml +
        "[storage]\n"
        f"database_path = \"{workdir / 'var' / 'secure-msg.db'}\"\n"
        f"keys_dir = \"{workdir / 'keys'}\"\n"
        "[argon2]\nopslimit = 2\nmemlimit_bytes = 19922944\n"
        "[logging]\nlevel = \"INFO\"\n" + extra_toml,
        encoding="utf-8",
    )
    return config


@dataclass
class ServerProcess:
    workdir: Path
    config_path: Path
    env: Mapping[str, str]
    process: subprocess.Popen[bytes] | None = None
    base_url: str = ""
    starts: int = 0
    stdout_lines: list[str] = field(default_factory=list)
    # The module run with `python -m`; write_probe adds the test-only POST /test/write.
    module_args: tuple[str, ...] = ("secure_msg", "serve")

    @property
    def db_path(self) -> Path:
        return self.workdir / "var" / "secure-msg.db"

    @property
    def keys_dir(self) -> Path:
        return self.workdir / "keys"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    @property
    def stdout_path(self) -> Path:
        return self.workdir / f"stdout-{self.starts}.txt"

    def url(self, path: str) -> str:
        return self.base_url + path

    def db_files(self) -> list[Path]:
        candidates = [self.db_path, *(self.db_path.with_name(self.db_path.name + s)
                                      for s in ("-wal", "-shm"))]
        return [p for p in candidates if p.exists()]

    def start(self, timeout: float = 20.0) -> None:
        self.starts += 1
        with self.stdout_path.open("wb") as out, self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", *self.module_args, "--config", str(self.config_path)],
                stdout=out, stderr=log, stdin=subprocess.DEVNULL, cwd=self.workdir,
                env={**os.environ, **self.env},
            )
        self.base_url = self._wait_for_url(timeout)
        self._wait_ready(timeout)

    def _wait_for_url(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.stdout_path.read_text(encoding="utf-8", errors="replace")
            match = _LISTENING.search(text)
            if match:
                self.stdout_lines = text.splitlines()
                return match[1]
            self._check_alive()
            time.sleep(0.02)
        raise TimeoutError(f"server did not report its port; log: {self._log_tail()}")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url("/readyz"), timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            self._check_alive()
            time.sleep(0.02)
        raise TimeoutError(f"server never became ready; log: {self._log_tail()}")

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(
                f"server exited with {self.process.returncode}; log: {self._log_tail()}"
            )

    def _log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""

    def kill(self) -> None:
        """kill -9: no shutdown handlers, no final commit: what a power cut looks like to us."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait: a clean shutdown. Returns the exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return int(self.process.returncode)

    def restart(self, timeout: float = 20.0) -> None:
        self.stop()
        self.start(timeout)


WRITE_PROBE = ("secure_msg.testing.write_probe",)


def start_server(
    workdir: Path, *, extra_toml: str = "", server_toml: str = "",
    env: Mapping[str, str] | None = None,
    timeout: float = 20.0, module_args: tuple[str, ...] = ("secure_msg", "serve"),
) -> ServerProcess:
    """Prepare config, keys and database directory under `workdir`, then start and wait."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = write_test_config(workdir, extra_toml, server_toml)
    keys = workdir / "keys"
    if not key_files_present(keys):
        generate_key_files(keys, system_rng)
    server = ServerProcess(workdir, config, dict(env or {}), module_args=module_args)
    server.start(timeout)
    return server


def start_peer(server: ServerProcess, workdir: Path, *, env: Mapping[str, str] | None = None,
               timeout: float = 20.0) -> ServerProcess:
    """Another process beside `server`, as on a second host behind the proxy: the same config
    (so the same database, on PostgreSQL) and a copy of its keys, but its own `workdir` (its own
    files beside `database_path`, which a process on another machine would not share). `env`
    adds to `server`'s environment (e.g. another port)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if not key_files_present(workdir / "keys"):
        shutil.copytree(server.keys_dir, workdir / "keys")
    config = workdir / server.config_path.name
    config.write_text(server.config_path.read_text(encoding="utf-8").replace(
        str(server.workdir), str(workdir)), encoding="utf-8")
    peer = ServerProcess(workdir, config, {**server.env, **(env or {})},
                         module_args=server.module_args)
    peer.start(timeout)
    return peer
