"""A process that has just started (a restart, a new worker) has seen no payload of the other
processes yet, so their counters cannot tell it a payload is played back. A role that may LISTEN
(any that may CONNECT) records a session-ending payload and plays it back within the minute a
payload stays fresh: without more, the new process applies it and closes sockets of sessions
that are valid (a password change's or recovery's, whose new sessions connected since)."""

from __future__ import annotations

from secure_msg.services import live_wire
from secure_msg.services.live import PASSWORD_CHANGED, EndAccount, Hub
from secure_msg.services.live_bus import LiveBus

KEY = bytes(range(32))
OTHER, FRESH = b"\x09" * 8, b"\x07" * 8
NOW = 1_800_000_000_000
ACCOUNT, OLD, NEW = b"\x01" * 16, b"\x02" * 32, b"\x03" * 32


def test_a_payload_sealed_before_a_process_started_is_refused_there() -> None:
    sender = live_wire.Sealer(KEY, OTHER)
    [recorded] = [sender.seal(body, NOW) for body in
                  live_wire.encode(EndAccount(ACCOUNT, OLD, PASSWORD_CHANGED))]
    # The process starts 10 s later; the account's new session (logged in with the new
    # password) connects to it.
    clock = [NOW + 10_000]
    hub = Hub()
    bus = LiveBus(hub, live_wire.Sealer(KEY, FRESH), now_ms=lambda: clock[0])
    socket = hub.subscribe(ACCOUNT, NEW)
    clock[0] += 1_000
    bus.received(recorded)  # played back by a listener that recorded it
    assert (socket.ended, bus.applied, bus.rejected) == (False, 0, 1)

    # What the others send once it listens still applies.
    for body in live_wire.encode(EndAccount(ACCOUNT, OLD, PASSWORD_CHANGED)):
        bus.received(sender.seal(body, clock[0]))
    assert (socket.ended, socket.reason, bus.applied) == (True, PASSWORD_CHANGED, 1)
