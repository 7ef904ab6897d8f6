"""Driving two real app processes on one PostgreSQL database (started with
secure_msg.testing.server_pair.start_pair), for the live-event tests and bench of issue 18.

    first, second = start_pair(tmp_path, pg_database())
    invite = run_cli(first, "admin", "invite", "--role", "therapist", "--name", "T", "--json")
    await client.enroll(on(second, link), ...)  # an invitation made on one, used on the other
"""

from __future__ import annotations

import os
import subprocess
import sys

from secure_msg.testing.server_process import ServerProcess


def run_cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """`secure-msg …` against `server`'s config and database (e.g. `admin invite`)."""
    return subprocess.run(  # noqa: S603 (our own CLI, by the interpreter running the tests)
        [sys.executable, "-m", "secure_msg", *args, "--config", str(server.config_path)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, **server.env})


def on(server: ServerProcess, link: str) -> str:
    """An enrolment link, pointed at `server`."""
    return server.base_url + link[link.index("/enroll/"):]
