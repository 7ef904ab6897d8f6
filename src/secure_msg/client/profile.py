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
class Pin:
    """What this client first saw of an account (docs/protocol.md §6.4): the key is trusted
    until verified in person; the name and roles are the server's word, kept to show a change."""

    identity_key: str  # hex
    verified: bool = False
    name: str | None = None
    name_pinned: bool = False  # a name of None is pinned too: "no name" is what was listed
    roles: dict[str, str] = field(default_factory=dict)  # booklet id → role
    # Two of my devices pinned different keys (§6.5 merge): refused as a changed key is,
    # until verified in person again.
    key_conflict: bool = False


@dataclass
class Seen:
    """The highest entry of a booklet this client accepted: its history check's checkpoint
    (docs/protocol.md §4.6)."""

    seq: int
    entry_hash: str  # hex
    joined_seq: int = 0
    accepted: int = 0  # how often the history was accepted after a restore (protocol §6.5)


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
    pins: dict[str, Pin] = field(default_factory=dict)
    checkpoints: dict[str, Seen] = field(default_factory=dict)  # by booklet id
    # booklet id → the accounts my entries were sealed to there: a recipient not in it is new
    sealed_to: dict[str, list[str]] = field(default_factory=dict)
    # The highest version of the sealed client state opened or written: a lower one stored
    # on the server is a rollback (§6.5).
    state_version: int = 0

    @classmethod
    def load(cls, folder: Path) -> Profile:
        path = folder / "profile.json"
        if not path.exists():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        pins = {k: Pin(**v) for k, v in data.pop("pins", {}).items()}
        seen = {k: Seen(**v) for k, v in data.pop("checkpoints", {}).items()}
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
        # Pin/StatePin and Seen/StateCheckpoint share their field names, so each converts by name.
        return ClientState(
            pins={k: StatePin(**asdict(p)) for k, p in self.pins.items()},
            checkpoints={k: StateCheckpoint(**asdict(s)) for k, s in self.checkpoints.items()},
            sealed_to={k: frozenset(v) for k, v in self.sealed_to.items()},
        )

    def adopt(self, state: ClientState) -> None:
        """Take `state` (a merge of this profile's and the stored one) as this profile's."""
        self.pins = {k: Pin(**asdict(p)) for k, p in state.pins.items()}
        self.checkpoints = {k: Seen(**asdict(c)) for k, c in state.checkpoints.items()}
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
