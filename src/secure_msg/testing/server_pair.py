"""Two real `secure-msg serve` processes on one PostgreSQL database, for tests (issue 18).

`start_pair` starts them with the same server keys (as two hosts behind a proxy share them),
so a token or an invitation made through one is good on the other; `run_cli` runs
`secure-msg admin …` against a server's config and database; `link_on` points a link the
server made (under its configured public URL) at one process's actual address.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from secure_msg.storage.db import DATABASE_URL_ENV
from secure_msg.testing.server_process import ServerProcess, start_server


def run_cli(server: ServerProcess, *args: str, timeout: float = 120
            ) -> subprocess.CompletedProcess[str]:
    """`python -m secure_msg ARGS --config <server's>` in the server's environment."""
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "secure_msg", *args, "--config", str(server.config_path)],
        capture_output=True, text=True, timeout=timeout, check=False,
        env={**os.environ, **server.env})


def link_on(server: ServerProcess, link: str) -> str:
    return server.base_url + link[link.index("/enroll/"):]


def start_pair(tmp_path: Path, dsn: str, *, extra_toml: str = "",
               envs: tuple[Mapping[str, str], Mapping[str, str]] = ({}, {}),
               ) -> tuple[ServerProcess, ServerProcess]:
    """Two processes on the database `dsn`, in `tmp_path/a` and `tmp_path/b` (each its own
    config, database_path directory and log) with the same keys; `envs` adds to each one's
    environment (e.g. its own port and public URL)."""
    env = {"SECURE_MSG_STORAGE_BACKEND": "postgresql", DATABASE_URL_ENV: dsn}
    first = start_server(tmp_path / "a", env={**env, **envs[0]}, extra_toml=extra_toml)
    try:
        (tmp_path / "b").mkdir()
        shutil.copytree(first.keys_dir, tmp_path / "b" / "keys")
        second = start_server(tmp_path / "b", env={**env, **envs[1]}, extra_toml=extra_toml)
    except BaseException:
        first.stop()
        raise
    return first, second
