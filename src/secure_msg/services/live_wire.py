"""The live hub's fan-outs as short sealed text, for the other app processes
(services/live_bus.py).

A fan-out is one or more bodies of space-separated fields, `<op> <fields…>`:

- `e` booklet seq kind author accounts (a new entry); `r` type booklet accounts (grant,
  appointments, removed); `m` booklet account change accounts (a caregiver joined or left); `b`
  booklet status accounts (closed); `s` account session (logged out); `a` account keep reason
  (every session but `keep` ended, `-` for none); `x` account booklet (removed from it).
- Ids are base64url without padding; `accounts` is a comma-separated list (`-` when empty).
  Words (a reader event's type, a change, a status, a reason) come from fixed lists.

Ids and sequence numbers only, as on the socket itself, never content. Even so each body is
sealed before it goes out, because PostgreSQL lets any role that may CONNECT to the database
LISTEN and NOTIFY on any channel (and PUBLIC may CONNECT unless revoked): sealed, a listener
learns nothing of who is in which booklet or posts when, and a sender without the server's
keys cannot close someone's sockets or invent events. The payload is

    v1 <origin> <counter> <base64url(AES-256-GCM(key, nonce = origin ‖ counter,
                                                 "<time ms> <body>", AAD = LABEL))>

- `origin`: the sending process's random 8-byte id (base64url), so that a process skips its
  own; `counter`: that process's payload number, 4 bytes with the origin making a nonce that is
  never used twice. A receiver refuses a counter it has seen from the origin (payloads of one
  sender arrive in order) and a time more than MAX_AGE_MS away from its own: a payload
  recorded by a listener cannot be played back. A process that has just started knows no
  sender's counter yet, so it also refuses a time before it started listening (less
  START_SKEW_MS for the hosts' clocks): a payload recorded before cannot be played back to it.
- The key is derived from the server's blind-index key (`live_key`): every process with the
  same `keys/` has it.
- A payload stays under MAX_PAYLOAD (PostgreSQL refuses 8000 bytes or more): a fan-out to more
  accounts than fit in one body is split into several, each with the same event.

`decode` and `Sealer.open` raise ValueError on anything else; the bus logs it and goes on.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import OrderedDict

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from secure_msg.crypto.vault import Vault
from secure_msg.model.booklet_lifecycle import BookletStatus
from secure_msg.services.live import (
    END_REASONS,
    READER_EVENTS,
    BookletEvent,
    Deliver,
    EndAccount,
    EndSession,
    EntryEvent,
    Fanout,
    MemberEvent,
    MemberRemoved,
    ReaderEvent,
)

VERSION = "v1"
MAX_PAYLOAD = 7900  # bytes; PostgreSQL's limit is 8000, less a margin
MAX_BODY = 5600  # characters: sealed and in base64url, with the head, under MAX_PAYLOAD
MAX_AGE_MS = 60_000  # a payload's time may differ from the receiver's by this much
START_SKEW_MS = 2_000  # a payload sealed this long before a receiver started still counts
LABEL = b"secure-msg/live/v1"
ORIGIN_BYTES = 8
_ORIGINS_KEPT = 4096  # senders whose last counter a receiver remembers
MEMBER_CHANGES = ("joined", "withdrawn", "expired")
_B64 = re.compile(r"[A-Za-z0-9_-]+")
MAX_ID = 88  # characters: up to 64 bytes
_INT = re.compile(r"(0|[1-9][0-9]{0,17})")


def encode_id(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii")


def decode_id(text: str, max_chars: int = MAX_ID) -> bytes:
    if len(text) > max_chars or not _B64.fullmatch(text):
        raise ValueError("bad id")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("bad id") from None


def _int(text: str) -> int:
    if not _INT.fullmatch(text):
        raise ValueError("bad number")
    return int(text)


def _word(text: str, allowed: tuple[str, ...]) -> str:
    if text not in allowed:
        raise ValueError("unknown word")
    return text


def _accounts(text: str) -> tuple[bytes, ...]:
    if text == "-":
        return ()
    return tuple(decode_id(part) for part in text.split(","))


def _deliver_fields(event: object) -> list[str]:
    """The fields of a Deliver's event, before its accounts."""
    if isinstance(event, EntryEvent):
        return ["e", encode_id(event.booklet_id), str(event.seq), str(event.kind),
                encode_id(event.author_id)]
    if isinstance(event, ReaderEvent):
        return ["r", event.type, encode_id(event.booklet_id)]
    if isinstance(event, MemberEvent):
        return ["m", encode_id(event.booklet_id), encode_id(event.account_id), event.change]
    if isinstance(event, BookletEvent):
        return ["b", encode_id(event.booklet_id), event.status]
    raise TypeError(f"not a live event: {type(event).__name__}")


def encode(fanout: Fanout) -> list[str]:
    """The bodies that carry `fanout` (one unless its accounts do not fit in one)."""
    if isinstance(fanout, EndSession):
        return [f"s {encode_id(fanout.account_id)} {encode_id(fanout.session_key)}"]
    if isinstance(fanout, EndAccount):
        keep = "-" if fanout.keep is None else encode_id(fanout.keep)
        return [f"a {encode_id(fanout.account_id)} {keep} {fanout.reason}"]
    if isinstance(fanout, MemberRemoved):
        return [f"x {encode_id(fanout.account_id)} {encode_id(fanout.booklet_id)}"]
    prefix = " ".join(_deliver_fields(fanout.event)) + " "
    room = MAX_BODY - len(prefix)
    bodies: list[str] = []
    chunk: list[str] = []
    used = 0
    for account in fanout.accounts:
        text = encode_id(account)
        if chunk and used + 1 + len(text) > room:
            bodies.append(prefix + ",".join(chunk))
            chunk, used = [], 0
        used += len(text) + (1 if chunk else 0)
        chunk.append(text)
    if chunk or not bodies:
        bodies.append(prefix + (",".join(chunk) or "-"))
    return bodies


def origin_prefix(origin: bytes) -> str:
    """What every payload `origin` sends begins with: a process skips its own by it."""
    return f"{VERSION} {encode_id(origin)} "


def _fields(fields: list[str], count: int) -> list[str]:
    if len(fields) != count:
        raise ValueError("wrong number of fields")
    return fields


def _decode_fanout(op: str, f: list[str]) -> Fanout:
    if op == "e":
        booklet, seq, kind, author, accounts = _fields(f, 5)
        return Deliver(EntryEvent(decode_id(booklet), _int(seq), _int(kind), decode_id(author)),
                       _accounts(accounts))
    if op == "r":
        type_, booklet, accounts = _fields(f, 3)
        return Deliver(ReaderEvent(_word(type_, READER_EVENTS), decode_id(booklet)),
                       _accounts(accounts))
    if op == "m":
        booklet, account, change, accounts = _fields(f, 4)
        return Deliver(MemberEvent(decode_id(booklet), decode_id(account),
                                   _word(change, MEMBER_CHANGES)), _accounts(accounts))
    if op == "b":
        booklet, status, accounts = _fields(f, 3)
        statuses = tuple(s.value for s in BookletStatus)
        return Deliver(BookletEvent(decode_id(booklet), _word(status, statuses)),
                       _accounts(accounts))
    if op == "s":
        account, session = _fields(f, 2)
        return EndSession(decode_id(account), decode_id(session))
    if op == "a":
        account, keep, reason = _fields(f, 3)
        return EndAccount(decode_id(account), None if keep == "-" else decode_id(keep),
                          _word(reason, END_REASONS))
    if op == "x":
        account, booklet = _fields(f, 2)
        return MemberRemoved(decode_id(account), decode_id(booklet))
    raise ValueError("unknown operation")


def decode(body: str) -> Fanout:
    """The fan-out a body says; ValueError when it is not one."""
    if len(body) > MAX_BODY:
        raise ValueError("too long")
    fields = body.split(" ")
    return _decode_fanout(fields[0], fields[1:])


def live_key(vault: Vault) -> bytes:
    """The payloads' key: HMAC-SHA256 under the blind-index key, as a PRF, of a label of its
    own (the same in every process with the same keys/, and of no use for anything else)."""
    return vault.blind_index("live.notify", "aes-256-gcm key v1")


class Sealer:
    """Seals this process's bodies and opens the other processes' payloads."""

    def __init__(self, key: bytes, origin: bytes) -> None:
        if len(origin) != ORIGIN_BYTES:
            raise ValueError("an origin is 8 bytes")
        self._aead = AESGCM(key)
        self.origin = origin
        self._counter = 0
        self._last: OrderedDict[bytes, int] = OrderedDict()  # origin → last counter opened

    def seal(self, body: str, now_ms: int) -> str:
        self._counter += 1
        if self._counter >= 1 << 32:  # never: 4 billion payloads from one process
            raise RuntimeError("live payload counter exhausted; restart the process")
        nonce = self.origin + self._counter.to_bytes(4, "big")
        sealed = self._aead.encrypt(nonce, f"{now_ms} {body}".encode("ascii"), LABEL)
        return f"{VERSION} {encode_id(self.origin)} {self._counter} {encode_id(sealed)}"

    def open(self, payload: str, now_ms: int, not_before_ms: int = 0) -> tuple[bytes, Fanout]:
        """(the sender's origin, the fan-out); ValueError when the payload is not a fresh one
        sealed under our key, or was sealed before `not_before_ms` (before we listened)."""
        if len(payload) > MAX_PAYLOAD:
            raise ValueError("too long")
        fields = payload.split(" ")
        if len(fields) != 4 or fields[0] != VERSION:
            raise ValueError("not a v1 payload")
        origin, counter = decode_id(fields[1]), _int(fields[2])
        if len(origin) != ORIGIN_BYTES or not 0 < counter < 1 << 32:
            raise ValueError("bad nonce")
        try:
            plain = self._aead.decrypt(origin + counter.to_bytes(4, "big"),
                                       decode_id(fields[3], MAX_PAYLOAD), LABEL)
        except InvalidTag:
            raise ValueError("not sealed under our key") from None
        if counter <= self._last.get(origin, 0):
            raise ValueError("played back")
        sent_ms, _, body = plain.decode("ascii").partition(" ")
        sent = _int(sent_ms)
        if abs(now_ms - sent) > MAX_AGE_MS:
            raise ValueError("too old")
        if sent < not_before_ms:
            raise ValueError("sealed before we listened")
        fanout = decode(body)
        self._last[origin] = counter
        self._last.move_to_end(origin)
        if len(self._last) > _ORIGINS_KEPT:
            self._last.popitem(last=False)
        return origin, fanout
