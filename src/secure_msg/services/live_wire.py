"""The live hub's fan-outs as short text, for the other app processes (services/live_bus.py).

One fan-out is one or more payloads of space-separated fields:

    v1 <origin> <op> <fields…>

- `origin`: the sending process's random id (base64url), so that a process skips its own.
- `op` and its fields: `e` booklet seq kind author accounts (a new entry); `r` type booklet
  accounts (grant, appointments, removed); `m` booklet account change accounts (a caregiver
  joined or left); `b` booklet status accounts (closed); `s` account session (logged out);
  `a` account keep reason (every session but `keep` ended, `-` for none); `x` account booklet
  (removed from the booklet).
- Ids are base64url without padding; `accounts` is a comma-separated list (`-` when empty).
  Words (a reader event's type, a change, a status, a reason) come from fixed lists.

Ids and sequence numbers only, as on the socket itself, never content: PostgreSQL shows a
notification to any session that LISTENs on the channel. The one value beyond the socket's is a
session's key, the SHA-256 of its token as the sessions table holds it, which does not log
anybody in. A payload stays under MAX_PAYLOAD (PostgreSQL refuses 8000 bytes or more): a
fan-out to more accounts than fit is split into several payloads, each with the same event.

`decode` raises ValueError on anything else (a payload from another version, a bad field);
the bus logs it and goes on.
"""

from __future__ import annotations

import base64
import binascii
import re

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
MEMBER_CHANGES = ("joined", "withdrawn", "expired")
_ID = re.compile(r"[A-Za-z0-9_-]{1,88}")  # up to 64 bytes
_INT = re.compile(r"(0|[1-9][0-9]{0,17})")


def encode_id(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii")


def decode_id(text: str) -> bytes:
    if not _ID.fullmatch(text):
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


def encode(origin: bytes, fanout: Fanout) -> list[str]:
    """The payloads that carry `fanout` (one unless its accounts do not fit in one)."""
    head = f"{VERSION} {encode_id(origin)}"
    if isinstance(fanout, EndSession):
        return [f"{head} s {encode_id(fanout.account_id)} {encode_id(fanout.session_key)}"]
    if isinstance(fanout, EndAccount):
        keep = "-" if fanout.keep is None else encode_id(fanout.keep)
        return [f"{head} a {encode_id(fanout.account_id)} {keep} {fanout.reason}"]
    if isinstance(fanout, MemberRemoved):
        return [f"{head} x {encode_id(fanout.account_id)} {encode_id(fanout.booklet_id)}"]
    prefix = " ".join([head, *_deliver_fields(fanout.event)]) + " "
    room = MAX_PAYLOAD - len(prefix)
    payloads: list[str] = []
    chunk: list[str] = []
    used = 0
    for account in fanout.accounts:
        text = encode_id(account)
        if chunk and used + 1 + len(text) > room:
            payloads.append(prefix + ",".join(chunk))
            chunk, used = [], 0
        used += len(text) + (1 if chunk else 0)
        chunk.append(text)
    if chunk or not payloads:
        payloads.append(prefix + (",".join(chunk) or "-"))
    return payloads


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


def decode(payload: str) -> tuple[bytes, Fanout]:
    """(the sender's origin, the fan-out); ValueError when the payload is not one of ours."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError("too long")
    fields = payload.split(" ")
    if len(fields) < 3 or fields[0] != VERSION:
        raise ValueError("not a v1 payload")
    return decode_id(fields[1]), _decode_fanout(fields[2], fields[3:])
