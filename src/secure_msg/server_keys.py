"""The server's own key files in keys/: generated once by `secure-msg init`, read at start-up."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from secure_msg.crypto.rng import Rng
from secure_msg.crypto.vault import KEY_BYTES, Vault
from secure_msg.errors import ConfigError, KeysExist
from secure_msg.logging import get_logger, log_event
from secure_msg.private_files import private_dir

log = get_logger(__name__)

AT_REST_KEY = "at-rest.key"
BLIND_INDEX_KEY = "blind-index.key"
KEY_FILES = (AT_REST_KEY, BLIND_INDEX_KEY)
KEYS_KEY = "storage.keys_dir"
_OURS = {*KEY_FILES, "README.md"}  # a checkout's keys/ holds a README beside the keys


def generate_key_files(keys_dir: Path, rng: Rng) -> list[Path]:
    """Write 32 random bytes to each key file (mode 0600). Refuses if any already exists."""
    existing = [keys_dir / name for name in KEY_FILES if (keys_dir / name).exists()]
    if existing:
        raise KeysExist(existing[0])
    _private_keys_dir(keys_dir)
    written = []
    for name in KEY_FILES:
        path = keys_dir / name
        # O_EXCL: never clobber a file that appeared since the check above.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(rng(KEY_BYTES))
            f.flush()
            os.fsync(f.fileno())
        written.append(path)
    return written


def key_files_present(keys_dir: Path) -> bool:
    return all((keys_dir / name).exists() for name in KEY_FILES)


def _read_key(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(KEYS_KEY, f"{path} is missing; run `secure-msg init`") from None
    if len(data) != KEY_BYTES:
        raise ConfigError(KEYS_KEY, f"{path} must hold exactly {KEY_BYTES} bytes")
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise ConfigError(KEYS_KEY, f"{path} is readable by others; chmod 600 it")
    return data


def _private_keys_dir(keys_dir: Path) -> None:
    """keys/ 0700 (created so, or narrowed and logged); the files themselves are refused, not
    changed, when others can read them: a key that was readable may have been copied."""
    for changed in private_dir(keys_dir, KEYS_KEY, _OURS):
        log_event(log, logging.WARNING, "keys.permissions_narrowed", path=str(changed))


def load_vault(keys_dir: Path, rng: Rng) -> Vault:
    if keys_dir.is_dir():  # a missing one is named by _read_key, not created empty here
        _private_keys_dir(keys_dir)
    return Vault(_read_key(keys_dir / AT_REST_KEY), _read_key(keys_dir / BLIND_INDEX_KEY), rng)
