"""What a client keeps between runs in its profile folder: the server, the session token, the
identity keys it has pinned and the last entry it accepted of each booklet. Private keys are
never written here: they are opened from the password-sealed bundle each time (the server keeps
that bundle; the password opens it). Pins, checkpoints and the sealed-to record are also kept,
sealed, on the server (docs/protocol.md §6.5; client/state_sync.py)."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from secure_msg.crypto.client_state import ClientState, StateCheckpoint, StatePin


@dataclass
class Profile:
    server: str = ""
    login: str = ""
    account_id: str = ""
    token: str = ""
    # The password-sealed key bundle and its KDF parameters, from the last login: opening it
    # needs the password, so private keys are never on disk in the clear.
    bundle: str = ""  # base64url
    kdf_salt: str = ""  # base64url
    kdf_iterations: int = 0
    # Pins (docs/protocol.md §6.4) and history checkpoints (§4.6) are the sealed state's own
    # frozen types: a change stores a new value here, so a state taken earlier stays as it was.
    pins: dict[str, StatePin] = field(default_factory=dict)  # by account id
    checkpoints: dict[str, StateCheckpoint] = field(default_factory=dict)  # by booklet id
    # booklet id → the accounts my entries were sealed to there: a recipient not in it is new
    sealed_to: dict[str, list[str]] = field(default_factory=dict)
    # The highest version of the sealed client state opened or written: a lower one stored
    # on the server is a rollback (§6.5).
    state_version: int = 0
    # booklet id → the highest signed roster version accepted (§6.6): a lower one is a rollback
    roster_versions: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> Profile:
        path = folder / "profile.json"
        if not path.exists():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        # Written by `save` with the same field names; older files lack the fields that have
        # defaults (key_conflict, accepted).
        pins = {k: StatePin(**v) for k, v in data.pop("pins", {}).items()}
        seen = {k: StateCheckpoint(**v) for k, v in data.pop("checkpoints", {}).items()}
        return cls(**data, pins=pins, checkpoints=seen)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / "profile.json"
        # The session token is a secret: owner-only (mkstemp's mode), written atomically, and
        # through a temporary file of its own so two runs cannot interleave into one.
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".profile-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(asdict(self), fh, indent=1)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def client_state(self) -> ClientState:
        """The part of the profile that §6.5 keeps sealed on the server."""
        # Copies of the mappings only: the pins and checkpoints in them are frozen.
        return ClientState(
            pins=dict(self.pins),
            checkpoints=dict(self.checkpoints),
            sealed_to={k: frozenset(v) for k, v in self.sealed_to.items()},
        )

    def adopt(self, state: ClientState) -> None:
        """Take `state` (a merge of this profile's and the stored one) as this profile's."""
        self.pins = dict(state.pins)
        self.checkpoints = dict(state.checkpoints)
        self.sealed_to = {k: sorted(v) for k, v in state.sealed_to.items()}


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold the profile folder's lock: a second run on the same folder waits here, so two
    runs cannot both load the profile and the last to save drop the other's pins."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(folder / "profile.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released by the kernel if this process dies
        yield
    finally:
        os.close(fd)
