"""A malformed SECURE_MSG_DATABASE_URL must not put its password on stderr or in the log.

libpq quotes the part of a connection string it cannot parse ("unexpected spaces found in
"<password>"", "missing "=" after "<word>""): a password with an unencoded space is such a
part. `serve` and `admin migrate-to-postgresql` answer with what is wrong and which variable,
never with its text. No database is reached: parsing fails first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from secure_msg.config import load_config
from secure_msg.crypto.rng import system_rng
from secure_msg.server_keys import generate_key_files
from secure_msg.storage.db import DATABASE_URL_ENV, open_database
from secure_msg.testing.server_process import write_test_config

SECRET = "s3 cr3t-pw"
MALFORMED = [
    f"postgresql://app:{SECRET}@/secure_msg?host=/nonexistent",
    f"host=/nonexistent user=app password={SECRET} dbname=secure_msg",
]


def _run(tmp_path: Path, dsn: str, *args: str, backend: str) -> subprocess.CompletedProcess[str]:
    config = write_test_config(tmp_path)
    if not (tmp_path / "keys").exists():
        generate_key_files(tmp_path / "keys", system_rng)
    env = {**os.environ, DATABASE_URL_ENV: dsn, "SECURE_MSG_STORAGE_BACKEND": backend}
    return subprocess.run([sys.executable, "-m", "secure_msg", *args, "--config", str(config)],
                          capture_output=True, text=True, timeout=60, check=False, env=env)


@pytest.mark.parametrize("dsn", MALFORMED)
def test_serve_does_not_print_the_password_of_a_malformed_url(tmp_path: Path, dsn: str) -> None:
    out = _run(tmp_path, dsn, "serve", backend="postgresql")
    assert out.returncode == 2
    for word in SECRET.split():
        assert word not in out.stderr + out.stdout
    assert DATABASE_URL_ENV in out.stderr
    assert "listening" not in out.stdout


async def _sqlite_installation(tmp_path: Path) -> None:
    config = load_config(write_test_config(tmp_path), env={})
    db = await open_database(config.storage)
    await db.close()


@pytest.mark.parametrize("dsn", MALFORMED)
async def test_migrate_does_not_print_the_password_of_a_malformed_url(tmp_path: Path,
                                                                       dsn: str) -> None:
    await _sqlite_installation(tmp_path)
    out = _run(tmp_path, dsn, "admin", "migrate-to-postgresql", backend="sqlite")
    assert out.returncode == 2
    for word in SECRET.split():
        assert word not in out.stderr + out.stdout
    assert DATABASE_URL_ENV in out.stderr
