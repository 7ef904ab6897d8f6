"""Keeping this device's pins, checkpoints and sealed-to record in step with the account's
sealed client state on the server (docs/protocol.md §6.5, "When").

One sync: read the stored state, open it, merge it with the profile's, take the result as the
profile's, and write it back when it differs from what is stored. The write is a
compare-and-swap on the version; when another device wrote in between (409) the sync starts
over from the read. What the server could have done wrong is reported, never fatal: the
profile's own state always survives and is written over what the server served.
"""

from __future__ import annotations

from dataclasses import dataclass

from secure_msg.client.http import Api, ClientError, b64d, b64e
from secure_msg.client.profile import Profile
from secure_msg.client.state_merge import merge
from secure_msg.crypto.client_state import MAX_VERSION, ClientState, open_state, seal_state
from secure_msg.crypto.errors import ProtocolError

MAX_SYNC_ATTEMPTS = 5


@dataclass(frozen=True)
class StateProblem:
    """Something wrong with the stored state, or between this device's and another's."""

    # state-rolled-back, a §6.5 opening error, pin-conflict, history-rewritten,
    # state-too-large, state-not-saved, malformed (the server's answer)
    code: str
    account: str | None = None  # pin-conflict: whose pins differ
    booklet: str | None = None  # history-rewritten: which booklet's checkpoints differ
    seq: int | None = None  # history-rewritten: the checkpoint's sequence
    stored_version: int | None = None  # state-rolled-back: what the server served …
    known_version: int | None = None  # … and the highest this device opened or wrote

    def to_json(self) -> dict[str, str | int]:
        return {k: v for k, v in (("code", self.code), ("account", self.account),
                                  ("booklet", self.booklet), ("seq", self.seq),
                                  ("stored_version", self.stored_version),
                                  ("known_version", self.known_version)) if v is not None}

    def describe(self) -> str:
        if self.code == "state-rolled-back":
            return (f"the server served an older copy of your saved pins and checks (version "
                    f"{self.stored_version}, this device had {self.known_version}): a restore "
                    "from backup, or changes hidden from you; this device's were kept and "
                    "saved again")
        if self.code == "pin-conflict":
            return (f"your devices pinned different identity keys for {self.account}: entries "
                    "to and from them are refused until you compare safety numbers in person "
                    "and verify")
        if self.code == "history-rewritten":
            return (f"booklet {self.booklet}: entry {self.seq} is not the one your other "
                    "device saw (the server may be showing your devices different histories)")
        if self.code == "state-not-saved":
            return ("the server claims a newer copy of your saved pins and checks "
                    f"(version {self.stored_version}) than this device can open, so they were "
                    "not saved there and stay on this device; tell the practice")
        if self.code == "state-too-large":
            return ("your pins and checks are larger than the server keeps "
                    "(limits.client_state_bytes): they stay on this device only")
        return (f"your saved pins and checks on the server do not open ({self.code}); this "
                "device's were saved over them")


@dataclass(frozen=True)
class _Stored:
    server_version: int  # the version the server says it holds: the compare-and-swap's base
    version: int  # the blob's own (authenticated) version; 0 when nothing opened
    state: ClientState | None  # None: nothing stored, or it did not open
    opened: bool = True  # False: a blob was stored but did not open (reported already)


async def _read(api: Api, account_id: bytes, key: bytes, problems: list[StateProblem]
                ) -> _Stored | None:
    """The stored state; None when the answer itself is malformed (nothing can be written
    then: there is no base for the compare-and-swap)."""
    data = await api.call("GET", "/api/me/state")
    server_version = data.get("version") if isinstance(data, dict) else None
    blob = data.get("state") if isinstance(data, dict) else None
    if (isinstance(server_version, bool) or not isinstance(server_version, int)
            or not 0 <= server_version <= MAX_VERSION
            or not (blob is None or isinstance(blob, str))):
        problems.append(StateProblem("malformed"))
        return None
    # The server's `version` is only the compare-and-swap's base: a version this device counts
    # (for rollbacks, for its next write) comes from a blob it opened, else it is 0 (§6.5).
    if blob is None:
        return _Stored(server_version, 0, None)
    try:
        version, state = open_state(b64d(blob), account_id=account_id, key=key)
    except (ProtocolError, ValueError) as exc:  # ValueError: not even base64url
        code = exc.code if isinstance(exc, ProtocolError) else "malformed"
        problems.append(StateProblem(code))
        return _Stored(server_version, 0, None, opened=False)
    return _Stored(server_version, version, state)


def _conflicts(result_pins: tuple[str, ...], result_checkpoints: tuple[str, ...],
               merged: ClientState) -> list[StateProblem]:
    return ([StateProblem("pin-conflict", account=a) for a in result_pins]
            + [StateProblem("history-rewritten", booklet=b, seq=merged.checkpoints[b].seq)
               for b in result_checkpoints])


async def sync(api: Api, profile: Profile, *, account_id: bytes, key: bytes
               ) -> list[StateProblem]:
    """Merge the stored state into `profile` and store the result; the problems found."""
    problems: list[StateProblem] = []
    for _ in range(MAX_SYNC_ATTEMPTS):
        stored = await _read(api, account_id, key, problems)
        if stored is None:
            return _unique(problems)
        known = profile.state_version
        if stored.version < known and stored.opened:
            problems.append(StateProblem("state-rolled-back", stored_version=stored.version,
                                         known_version=known))
        merged = profile.client_state()
        if stored.state is not None:
            result = merge(merged, stored.state)
            merged = result.state
            problems += _conflicts(result.pin_conflicts, result.checkpoint_conflicts, merged)
        profile.adopt(merged)
        if stored.state == merged and stored.version >= known:
            profile.state_version = stored.version
            return _unique(problems)
        version = max(stored.version, known) + 1
        if version <= stored.server_version or version > MAX_VERSION:
            # The server claims a copy newer than any this device opened or wrote: following
            # its number would let it spend the version space (§6.5); keep this device's.
            problems.append(StateProblem("state-not-saved", stored_version=stored.server_version,
                                         known_version=known))
            return _unique(problems)
        try:
            blob = seal_state(merged, account_id=account_id, version=version, key=key)
        except ValueError:  # a state the reader would refuse: never write it
            problems.append(StateProblem("state-not-saved", known_version=known))
            return _unique(problems)
        try:
            await api.call("PUT", "/api/me/state", {
                "base_version": stored.server_version, "version": version,
                "state": b64e(blob)})
        except ClientError as exc:
            if exc.status == 413:  # kept on this device only; the next sync tries again
                problems.append(StateProblem("state-too-large"))
                return _unique(problems)
            if exc.code != "state-version-conflict":
                raise
            continue  # another device wrote first: read theirs, merge again
        profile.state_version = version
        return _unique(problems)
    raise ClientError(409, "state-version-conflict",
                      "Your saved state kept changing on the server; try again")


def _unique(problems: list[StateProblem]) -> list[StateProblem]:
    """Once each: a retried sync meets the same problem again."""
    return list(dict.fromkeys(problems))
