"""Who holds an outbox claim, and whether that process is provably gone.

`ClaimOwner` is what the outbox worker needs; two implementations hold it. On PostgreSQL
(services/process_locks.py `PgClaimOwner`) each process holds a session-level advisory lock on
a key derived from its id, on a connection of its own, so a peer on any machine proves it gone.
On SQLite, `FileClaimOwner` below, with lock files beside the database:

Each worker process draws a random id at start and holds an exclusive `flock` on
`<directory>/<id>.lock` for as long as it lives; its claims carry the id (`notices.claimed_by`).
The kernel drops a flock when its process ends, however it ends (kill -9, a crash, a power cut
and reboot), so a process that can take another owner's lock knows that owner is gone and may
take its claims at once instead of waiting out their lease. SQLite in WAL mode already needs
every process that opens the database on this one machine, beside the database file, so the
lock directory beside it reaches every possible owner. An owner whose lock file is missing (a
process from before this existed, a directory cleaned by hand) cannot be proved gone: its claims
wait for their lease, as before.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from pathlib import Path
from typing import Protocol

_ID = re.compile(r"[0-9a-f]{32}")


def owners_dir(database_path: Path) -> Path:
    """Where the lock files of the processes that use `database_path` live."""
    return database_path.with_name(database_path.name + ".owners")


class ClaimOwner(Protocol):
    """This process as an owner of outbox claims (its `id` goes into `notices.claimed_by`)."""

    @property
    def id(self) -> str: ...

    async def gone(self, owner_id: str) -> bool:
        """True when `owner_id` is provably no longer running; False for ourselves, a live
        owner, or one that cannot be judged (its claims then wait for their lease)."""
        ...

    def sweep(self) -> None:
        """Forget owners that are gone, once their claims were released."""
        ...

    async def keep_alive(self) -> None:
        """Make sure our own liveness still holds (take it again if it was lost)."""
        ...

    @property
    def generation(self) -> int:
        """Our liveness as last seen: it changes when it was lost and taken again."""
        ...

    async def unbroken_since(self, generation: int) -> bool:
        """Whether our liveness held without a break since `generation` (checked now): if it
        broke, a peer may have proved us gone meanwhile and taken our claims."""
        ...

    async def close(self) -> None:
        """Give up our own liveness (at shutdown; safe twice)."""
        ...


class FileClaimOwner:
    """This process as an owner of outbox claims, by a lock file; `close` at shutdown."""

    def __init__(self, directory: Path, owner_id: str) -> None:
        if _ID.fullmatch(owner_id) is None:
            raise ValueError("an owner id is 32 lowercase hex digits")
        self.directory = directory
        self.id = owner_id
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Locked under a temporary name, then renamed: nobody ever sees our file unlocked and
        # takes us for gone.
        temp = directory / f".{owner_id}.new"
        fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            temp.rename(self._path(owner_id))
        except BaseException:
            os.close(fd)
            temp.unlink(missing_ok=True)
            raise
        self._fd: int | None = fd

    def _path(self, owner_id: str) -> Path:
        return self.directory / f"{owner_id}.lock"

    async def gone(self, owner_id: str) -> bool:
        return self.gone_now(owner_id)

    def gone_now(self, owner_id: str) -> bool:
        """True when `owner_id` is provably no longer running: its lock file exists and no one
        holds it. False for ourselves, a live owner, or one we cannot judge (no lock file, not
        an id we issue)."""
        if owner_id == self.id or _ID.fullmatch(owner_id) is None:
            return False
        path = self._path(owner_id)
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # held: the owner is alive
        finally:
            os.close(fd)  # releases our lock too, if we took it
        return True

    async def keep_alive(self) -> None:
        """Nothing to do: a flock lasts as long as the process."""

    generation = 0  # a flock is never lost while we live

    async def unbroken_since(self, generation: int) -> bool:
        return True

    def sweep(self) -> None:
        """Remove the lock files of owners that are gone. Call it only once their claims were
        released: without its file an owner can no longer be proved gone."""
        for entry in self.directory.glob("*.lock"):
            if self.gone_now(entry.stem):
                with contextlib.suppress(OSError):
                    entry.unlink()

    async def close(self) -> None:
        self.close_now()

    def close_now(self) -> None:
        """Release our lock (safe to call twice). The file stays: if a stop cut a send short,
        our claims are still out, and the next process must be able to prove us gone; its
        sweep removes the file once it has taken them."""
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
