"""Claim owners: a process holds a flock on its own lock file for its life, so another process
can prove it gone (the kernel drops the lock however it dies, kill -9 included)."""

from __future__ import annotations

from pathlib import Path

import pytest

from secure_msg.channels.claim_owner import FileClaimOwner, owners_dir
from secure_msg.services.process_locks import FileLeader

from .conftest import OwnerProcess

A, B, C = "a" * 32, "b" * 32, "c" * 32

def test_a_live_owner_is_not_gone_and_a_killed_one_is(tmp_path: Path,
                                                      owner_process: OwnerProcess) -> None:
    """While the child runs, its lock is held; after kill -9 it is provably gone, and sweeping
    removes its file. Our own id, an unknown one and a malformed one are never gone."""
    me = FileClaimOwner(tmp_path, A)
    kill = owner_process(tmp_path, C)
    assert not me.gone_now(C)
    kill()
    assert me.gone_now(C)
    assert (tmp_path / f"{C}.lock").exists()  # kept until its claims were released
    assert not me.gone_now(A)
    assert not me.gone_now(B)  # no lock file: cannot be judged, the lease decides
    assert not me.gone_now("../../etc/passwd")
    me.sweep()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{A}.lock"]
    me.close_now()


def test_two_owners_in_one_process_see_each_other_alive(tmp_path: Path) -> None:
    """flock is per open file: a second owner (another app in the same test process) is alive
    to the first, and gone once closed (close is safe twice). Its file stays for the next
    process to prove it gone, until a sweep."""
    first, second = FileClaimOwner(tmp_path, A), FileClaimOwner(tmp_path, B)
    assert not first.gone_now(B)
    assert not second.gone_now(A)
    second.close_now()
    second.close_now()
    assert first.gone_now(B)
    first.sweep()
    assert not (tmp_path / f"{B}.lock").exists()
    assert not first.gone_now(B)  # no file any more: not provable
    first.close_now()


def test_ids_are_checked_and_the_directory_is_private(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="32 lowercase hex"):
        FileClaimOwner(tmp_path, "A" * 32)
    directory = owners_dir(tmp_path / "var" / "secure-msg.db")
    assert directory == tmp_path / "var" / "secure-msg.db.owners"
    owner = FileClaimOwner(directory, A)
    assert directory.stat().st_mode & 0o777 == 0o700
    assert (directory / f"{A}.lock").stat().st_mode & 0o777 == 0o600
    owner.close_now()


async def test_a_file_leader_leads_alone(tmp_path: Path) -> None:
    """The scheduler's leader among SQLite's processes: a flock beside the database (two open
    files conflict even in one process, as two processes do); the next takes over on close."""
    path = owners_dir(tmp_path / "secure-msg.db") / "leader.lock"
    first, second = FileLeader(path), FileLeader(path)
    assert await first.lead()
    assert not await second.lead()
    assert first.leading
    assert not second.leading
    await first.close()
    assert await second.lead()
    assert not await first.lead()
    await second.close()
