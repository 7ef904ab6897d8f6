"""The hub's fan-outs as sealed text for the other processes (services/live_wire.py), and the
bus's receiving side (services/live_bus.py): every fan-out comes back as it went, ids only and
under PostgreSQL's payload limit; only a process with the same key opens it, once and while it
is fresh; a process skips its own; a bad payload is logged and skipped, and changes nothing."""

from __future__ import annotations

import logging

import pytest

from secure_msg.services import live_wire
from secure_msg.services.live import (
    APPOINTMENTS,
    GRANT,
    LOGGED_OUT,
    RECOVERED,
    REMOVED,
    BookletEvent,
    Deliver,
    EndAccount,
    EndSession,
    EntryEvent,
    Fanout,
    Hub,
    MemberEvent,
    MemberRemoved,
    ReaderEvent,
)
from secure_msg.services.live_bus import LiveBus

ORIGIN = bytes(range(8))
OTHER = b"\x09" * 8
KEY = bytes(range(32))
NOW = 1_800_000_000_000
BOOKLET, AUTHOR, MUM, DAD = b"\x01" * 16, b"\x02" * 16, b"\x03" * 16, b"\xff" * 16
SESSION = bytes(range(32))

FANOUTS: list[Fanout] = [
    Deliver(EntryEvent(BOOKLET, 7, 2, AUTHOR), (MUM, DAD)),
    Deliver(EntryEvent(BOOKLET, 1, 0, AUTHOR), ()),
    Deliver(ReaderEvent(GRANT, BOOKLET), (MUM,)),
    Deliver(ReaderEvent(APPOINTMENTS, BOOKLET), (MUM, DAD, AUTHOR)),
    Deliver(MemberEvent(BOOKLET, DAD, "withdrawn"), (MUM, DAD)),
    Deliver(BookletEvent(BOOKLET, "closed"), (MUM,)),
    EndSession(MUM, SESSION),
    EndAccount(MUM, SESSION, RECOVERED),
    EndAccount(MUM, None, "password-changed"),
    MemberRemoved(DAD, BOOKLET),
]


@pytest.mark.parametrize("fanout", FANOUTS)
def test_every_fanout_comes_back_as_it_went(fanout: Fanout) -> None:
    [body] = live_wire.encode(fanout)
    assert live_wire.decode(body) == fanout
    sender, receiver = live_wire.Sealer(KEY, ORIGIN), live_wire.Sealer(KEY, OTHER)
    payload = sender.seal(body, NOW)
    assert payload.startswith(live_wire.origin_prefix(ORIGIN))
    assert receiver.open(payload, NOW + 1000) == (ORIGIN, fanout)
    assert payload.isascii()
    assert len(payload) < 250


def test_a_body_carries_ids_and_numbers_only_and_goes_sealed() -> None:
    """What an entry event says: the booklet, seq, kind, author and readers; on the channel
    only the sender's id and payload number are readable."""
    [body] = live_wire.encode(FANOUTS[0])
    assert body == ("e AQEBAQEBAQEBAQEBAQEBAQ 7 2 AgICAgICAgICAgICAgICAg "
                    "AwMDAwMDAwMDAwMDAwMDAw,_____________________w")
    payload = live_wire.Sealer(KEY, ORIGIN).seal(body, NOW)
    version, origin, counter, sealed = payload.split(" ")
    assert (version, origin, counter) == ("v1", "AAECAwQFBgc", "1")
    assert "AQEBAQ" not in sealed
    assert len(live_wire.decode_id(sealed, 1000)) == len(f"{NOW} {body}") + 16  # + GCM tag


def test_a_fanout_to_more_accounts_than_fit_is_split() -> None:
    """Each payload stays under PostgreSQL's 8000 bytes; together they name every account once,
    each with the same event."""
    accounts = tuple(i.to_bytes(16, "big") for i in range(1000))
    fanout = Deliver(EntryEvent(BOOKLET, 3, 2, AUTHOR), accounts)
    bodies = live_wire.encode(fanout)
    assert len(bodies) == 5
    sender, receiver = live_wire.Sealer(KEY, ORIGIN), live_wire.Sealer(KEY, OTHER)
    payloads = [sender.seal(body, NOW) for body in bodies]
    assert all(len(p.encode()) <= live_wire.MAX_PAYLOAD for p in payloads)
    assert max(len(p) for p in payloads) > 7000  # the bodies were as long as allowed
    decoded = [receiver.open(p, NOW)[1] for p in payloads]
    assert all(isinstance(d, Deliver) and d.event == fanout.event for d in decoded)
    assert tuple(a for d in decoded if isinstance(d, Deliver) for a in d.accounts) == accounts


BAD = [
    "",
    "hello",
    "q AwMD",  # unknown operation
    "s AwMD",  # a field short
    "s AwMD AwMD AwMD",  # a field too many
    "s Aw=MD AwMD",  # not base64url
    "s A AwMD",  # not a whole byte
    "x AwMD ",  # an empty id
    "e AQEB -7 2 AgIC -",  # a negative seq
    "e AQEB 07 2 AgIC -",  # not a canonical number
    "e AQEB 7 2 AgIC AwMD,,AwMD",  # an empty account
    "r stolen AQEB -",  # not a reader event
    "m AQEB AgIC kidnapped -",  # not a member change
    "b AQEB deleted -",  # not a booklet status
    "a AwMD - because",  # not a close reason
    "s " + "A" * 100 + " AwMD",  # an id far too long
    "e AQEB 7 2 AgIC " + ",".join(["AwMD"] * 1500),  # over the limit
    "s\tAwMD AwMD",  # another separator
]


@pytest.mark.parametrize("body", BAD)
def test_a_bad_body_is_refused(body: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (the bus's test below reads the reason)
        live_wire.decode(body)


def _sealed(body: str = "x AwMD AQEB", *, key: bytes = KEY, at: int = NOW) -> str:
    return live_wire.Sealer(key, OTHER).seal(body, at)


def _tampered() -> str:
    head, sealed = _sealed().rsplit(" ", 1)
    return f"{head} {'B' if sealed[0] == 'A' else 'A'}{sealed[1:]}"


BAD_PAYLOADS = [
    *(_sealed(body) for body in BAD[:-2]),  # well sealed, saying nothing we know
    _sealed(key=bytes(32)),  # another installation's key (or none)
    _tampered(),
    _sealed(at=NOW - live_wire.MAX_AGE_MS - 1),  # recorded a while ago
    _sealed(at=NOW + live_wire.MAX_AGE_MS + 1),
    _sealed().replace(" 1 ", " 2 "),  # another payload number: another nonce
    _sealed().replace("v1 ", "v2 "),
    _sealed().replace("CQkJCQkJCQk", "CQkJCQkJCQ"),  # a 7-byte origin
    _sealed().replace(" 1 ", " 0 "),
    " ".join(_sealed().split(" ")[:3]),  # no ciphertext
    _sealed() + " more",
    "v1 CQkJCQkJCQk 1 " + "A" * 8000,  # over PostgreSQL's limit
    "hello",
    "",
]


def _bus(hub: Hub) -> LiveBus:
    return LiveBus(hub, live_wire.Sealer(KEY, ORIGIN), now_ms=lambda: NOW)


def _from_other(fanout: Fanout, sealer: live_wire.Sealer | None = None) -> list[str]:
    sealer = sealer or live_wire.Sealer(KEY, OTHER)
    return [sealer.seal(body, NOW) for body in live_wire.encode(fanout)]


def test_the_bus_applies_other_processes_fanouts_and_skips_its_own() -> None:
    hub = Hub()
    bus = _bus(hub)
    relayed: list[str] = []
    mum = hub.subscribe(MUM, SESSION)
    entry = EntryEvent(BOOKLET, 7, 2, AUTHOR)
    [own] = [bus.sealer.seal(body, NOW) for body in live_wire.encode(Deliver(entry, (MUM,)))]
    bus.received(own)
    assert mum.pop() is None  # the hub that sent it delivered it already
    other = live_wire.Sealer(KEY, OTHER)
    for payload in _from_other(Deliver(entry, (MUM,)), other):
        bus.received(payload)
        relayed.append(payload)
    assert mum.pop() == entry
    bus.received(relayed[0])  # played back: refused
    assert (mum.pop(), bus.rejected) == (None, 1)
    for payload in _from_other(MemberRemoved(MUM, BOOKLET), other):
        bus.received(payload)
    assert mum.pop() == ReaderEvent(REMOVED, BOOKLET)
    for payload in _from_other(EndSession(MUM, SESSION), other):
        bus.received(payload)
    assert (mum.ended, mum.reason, bus.applied) == (True, LOGGED_OUT, 3)


def test_relayed_entries_run_no_observer() -> None:
    """A new-entry ping is queued by the process that took the post only."""
    hub = Hub()
    seen: list[EntryEvent] = []
    hub.observers.append(lambda event, readers: seen.append(event))
    bus = _bus(hub)
    for payload in _from_other(Deliver(EntryEvent(BOOKLET, 7, 2, AUTHOR), (MUM,))):
        bus.received(payload)
    assert (seen, bus.applied) == ([], 1)
    hub.publish(EntryEvent(BOOKLET, 8, 2, AUTHOR), [MUM])
    assert [e.seq for e in seen] == [8]


def test_a_hub_relays_each_fanout_once_after_delivering_it() -> None:
    hub = Hub()
    relayed: list[Fanout] = []
    hub.relay = relayed.append
    mum = hub.subscribe(MUM, SESSION)
    hub.publish(EntryEvent(BOOKLET, 7, 2, AUTHOR), [MUM])
    hub.notify(ReaderEvent(GRANT, BOOKLET), [MUM])
    hub.announce(MemberEvent(BOOKLET, DAD, "joined"), [MUM, DAD])
    hub.booklet_changed(BookletEvent(BOOKLET, "closed"), [MUM])
    hub.member_removed(DAD, BOOKLET)
    hub.end_account(DAD, keep=None, reason=RECOVERED)
    hub.end_session(MUM, SESSION)
    assert relayed == [
        Deliver(EntryEvent(BOOKLET, 7, 2, AUTHOR), (MUM,)), Deliver(ReaderEvent(GRANT, BOOKLET),
                                                                    (MUM,)),
        Deliver(MemberEvent(BOOKLET, DAD, "joined"), (MUM, DAD)),
        Deliver(BookletEvent(BOOKLET, "closed"), (MUM,)), MemberRemoved(DAD, BOOKLET),
        EndAccount(DAD, None, RECOVERED), EndSession(MUM, SESSION)]
    assert mum.ended  # delivered here too, each before being relayed


@pytest.mark.parametrize("payload", BAD_PAYLOADS)
def test_the_bus_logs_and_skips_a_bad_payload(payload: str,
                                              caplog: pytest.LogCaptureFixture) -> None:
    hub = Hub()
    bus = _bus(hub)
    mum = hub.subscribe(MUM, SESSION)
    with caplog.at_level(logging.WARNING):
        bus.received(payload)
    assert (bus.rejected, bus.applied, mum.pop(), mum.ended) == (1, 0, None, False)
    [record] = [r for r in caplog.records if r.getMessage() == "live.bad_payload"]
    fields = record.__dict__["fields"]
    assert fields["length"] == len(payload)
    assert set(fields) == {"reason", "length"}  # why, never what the payload held
    assert len(fields["reason"]) < 40


def test_processes_with_the_same_keys_share_the_payload_key() -> None:
    """The key comes from the blind-index key alone: the same in every process with the same
    keys/, another with other keys, and none of the blind indexes."""
    from secure_msg.crypto.vault import Vault

    def vault(index_key: bytes) -> Vault:
        return Vault(b"\x01" * 32, index_key, lambda n: b"\x00" * n)

    key = live_wire.live_key(vault(b"\x02" * 32))
    assert len(key) == 32
    assert key == live_wire.live_key(vault(b"\x02" * 32))
    assert key != live_wire.live_key(vault(b"\x03" * 32))
    assert key != vault(b"\x02" * 32).blind_index("live.notify", "")
