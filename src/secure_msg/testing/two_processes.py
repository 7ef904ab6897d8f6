"""Two real app processes on one PostgreSQL database, for the tests of issue 18.

    first, second = start_pair(tmp_path, pg_database())
    invite = run_cli(first, "admin", "invite", "--role", "therapist", "--name", "T", "--json")
    await client.enroll(on(second, link), ...)  # an invitation made on one, used on the other

Both processes have the same server keys (as two hosts behind a proxy share them), so a token
or an invitation made through one is good on the other. Stop both with `stop_pair`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from secure_msg.storage.db import DATABASE_URL_ENV
from secure_msg.testing.server_process import ServerProcess, start_server


def run_cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """`secure-msg …` against `server`'s config and database (e.g. `admin invite`)."""
    return subprocess.run(  # noqa: S603 (our own CLI, by the interpreter running the tests)
        [sys.executable, "-m", "secure_msg", *args, "--config", str(server.config_path)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, **server.env})


def on(server: ServerProcess, link: str) -> str:
    """An enrolment link, pointed at `server`."""
    return server.base_url + link[link.index("/enroll/"):]


def start_pair(tmp_path: Path, dsn: str) -> tuple[ServerProcess, ServerProcess]:
    """Two processes on the database at `dsn`, with the same server keys."""
    env = {"SECURE_MSG_STORAGE_BACKEND": "postgresql", DATABASE_URL_ENV: dsn}
    first = start_server(tmp_path / "a", env=env)
    try:
        (tmp_path / "b").mkdir()
        shutil.copytree(first.keys_dir, tmp_path / "b" / "keys")
        second = start_server(tmp_path / "b", env=env)
    except BaseException:
        first.stop()
        raise
    return first, second
