"""Files only the service's own user may open: the database with its -wal and -shm, and keys/.

Directories are 0700 and files 0600. What these functions create gets that mode; what exists
with group or other bits is narrowed (chmod) and returned, for the caller to log; what cannot
be narrowed (another user's file, a read-only file system) stops start-up with a ConfigError
naming the path. A directory is narrowed only when it holds nothing but the files it is for: a
shared one (/tmp, /var/lib) is refused, never changed for everyone else.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection
from pathlib import Path

from secure_msg.errors import ConfigError

DIR_MODE = 0o700
FILE_MODE = 0o600
_OTHERS = 0o077  # group and other bits


def private_dir(path: Path, key: str, ours: Collection[str]) -> list[Path]:
    """Create directory `path` 0700 (missing parents get the default mode, as `mkdir -p`), or
    narrow it to its owner if it holds only names in `ours`. Returns the paths whose mode was
    changed; `key` is the config key a ConfigError names."""
    try:
        path.mkdir(mode=DIR_MODE, parents=True)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & _OTHERS:
            _refuse_shared(path, key, mode, ours)
        return narrow(path, key)
    return []


def _refuse_shared(path: Path, key: str, mode: int, ours: Collection[str]) -> None:
    others = sorted(entry.name for entry in path.iterdir() if entry.name not in ours)
    if others or mode & stat.S_ISVTX:
        raise ConfigError(key, f"{path} is open to group or others (mode {mode:o}) and holds "
                               "other files; give it a directory of its own, or make this one "
                               "owner-only (chmod go-rwx)")


def private_file(path: Path, key: str) -> list[Path]:
    """Create file `path` empty with mode 0600 unless it exists, then narrow it. SQLite gives
    the -wal and -shm files it creates the mode of the database file, so creating that 0600
    before SQLite opens it is enough for all three."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)  # no O_TRUNC: an existing file stays
    os.close(fd)
    return narrow(path, key)


def narrow(path: Path, key: str) -> list[Path]:
    """Take group and other bits off `path` if it exists; [path] if that changed its mode."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return []
    if not mode & _OTHERS:
        return []
    try:
        path.chmod(mode & ~_OTHERS)
    except OSError as exc:
        raise ConfigError(key, f"{path} is open to group or others (mode {mode:o}) and its mode "
                               f"cannot be changed ({exc.strerror}); make it owner-only "
                               "(chmod go-rwx) or choose another path") from None
    return [path]
