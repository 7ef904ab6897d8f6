"""Two real `secure-msg serve` processes on one PostgreSQL database, for the issue-18 tests."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from secure_msg.storage.db import DATABASE_URL_ENV
from secure_msg.testing.server_process import ServerProcess, start_server


def start_pair(tmp_path: Path, dsn: str, *, env: Mapping[str, str] | None = None,
               server_toml: str = "", extra_toml: str = "",
               each: tuple[Mapping[str, str], Mapping[str, str]] = ({}, {}),
               ) -> tuple[ServerProcess, ServerProcess]:
    """Two processes on one database, with the same server keys (as two hosts behind a proxy
    share them): a token or an invitation made through one is good on the other. `env`,
    `server_toml` and `extra_toml` (as for `start_server`) go to both; `each` adds to the
    first's and the second's own environment (e.g. a port and the public URL on it)."""
    both = {**(env or {}), "SECURE_MSG_STORAGE_BACKEND": "postgresql", DATABASE_URL_ENV: dsn}
    first = start_server(tmp_path / "a", env={**both, **each[0]}, server_toml=server_toml,
                         extra_toml=extra_toml)
    try:
        (tmp_path / "b").mkdir()
        shutil.copytree(first.keys_dir, tmp_path / "b" / "keys")
        second = start_server(tmp_path / "b", env={**both, **each[1]},
                              server_toml=server_toml, extra_toml=extra_toml)
    except BaseException:
        first.stop()
        raise
    return first, second
