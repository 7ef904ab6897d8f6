"""The database, its -wal and -shm, and keys/ are for the service's user only (issue 14,
defect 6: they were 0644 in a 0755 var/): created 0600/0700, narrowed at start-up when wider,
and refused, naming the path, when they cannot be narrowed or the directory is shared."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from secure_msg.crypto.rng import system_rng
from secure_msg.errors import ConfigError
from secure_msg.server_keys import generate_key_files, load_vault
from secure_msg.storage.db import Database
from secure_msg.testing.server_process import ServerProcess


def database_files(path: Path) -> list[Path]:
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _make(path: Path, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, mode)
    os.close(fd)
    path.chmod(mode)  # past the umask


@pytest.mark.parametrize("backend", ["sqlite"])  # SQLite's own files
def test_the_running_servers_database_files_are_owner_only(
    secure_msg_server: ServerProcess,
) -> None:
    """`secure-msg serve` on a fresh directory: var/ and keys/ 0700; the database, -wal and
    -shm 0600 while it runs."""
    files = secure_msg_server.db_files()
    assert [p.name for p in files] == ["secure-msg.db", "secure-msg.db-wal", "secure-msg.db-shm"]
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    assert _mode(secure_msg_server.db_path.parent) == 0o700
    assert _mode(secure_msg_server.keys_dir) == 0o700


async def test_wider_files_left_by_an_older_version_are_narrowed_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """A 0755 var/ with a 0644 database, -wal and -shm: opening narrows each (a WARNING names
    it) and the database works."""
    var = tmp_path / "var"
    var.mkdir()
    var.chmod(0o755)
    path = var / "secure-msg.db"
    for file in database_files(path):
        _make(file, 0o644)
    caplog.set_level(logging.WARNING)
    db = await Database.open(path)
    try:
        assert await db.ping()
        assert {p.name: _mode(p) for p in database_files(path)} == {
            p.name: 0o600 for p in database_files(path)}
        assert _mode(var) == 0o700
    finally:
        await db.close()
    narrowed = [r for r in caplog.records if r.getMessage() == "storage.permissions_narrowed"]
    assert len(narrowed) == 4


async def test_a_database_path_whose_mode_cannot_be_changed_stops_start_up(
    tmp_path: Path,
) -> None:
    """/proc/self is 0555 and no chmod changes it: ConfigError naming the key and the path."""
    with pytest.raises(ConfigError) as err:
        await Database.open(Path("/proc/self/secure-msg.db"))
    assert err.value.key == "storage.database_path"
    assert "/proc/self" in str(err.value)


@pytest.mark.parametrize("shared_mode", [0o755, 0o1777])
async def test_a_shared_directory_is_refused_and_left_as_it_was(
    tmp_path: Path, shared_mode: int,
) -> None:
    """A directory open to others that holds other files (or is sticky, like /tmp) is not
    narrowed for everyone else: ConfigError, its mode unchanged, no database made."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(shared_mode)
    if shared_mode == 0o755:
        (shared / "someone-elses.txt").write_text("x")
    with pytest.raises(ConfigError) as err:
        await Database.open(shared / "secure-msg.db")
    assert str(shared) in str(err.value)
    assert _mode(shared) == shared_mode
    assert not (shared / "secure-msg.db").exists()


def test_keys_dir_is_made_and_kept_owner_only(tmp_path: Path) -> None:
    """generate_key_files makes keys/ 0700; a 0755 keys/ holding the keys and a README is
    narrowed when the keys are loaded; a key file others can read is still refused."""
    keys = tmp_path / "keys"
    generate_key_files(keys, system_rng)
    assert _mode(keys) == 0o700
    keys.chmod(0o755)
    (keys / "README.md").write_text("keys live here")
    load_vault(keys, system_rng)
    assert _mode(keys) == 0o700
    (keys / "at-rest.key").chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        load_vault(keys, system_rng)
