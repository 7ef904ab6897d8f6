"""Recovery's end of the old sessions, as it reaches another process (services/live_bus.py):
over LISTEN/NOTIFY, a moment after the answer, which may be after the recovered client has
opened its socket there with its new session. Relayed, the fan-out must end the old sessions'
sockets and spare the new one's, as it does in the process that made it (where the new
session has no socket yet)."""

from __future__ import annotations

import aiohttp

from secure_msg.services.live import Fanout
from secure_msg.web.services import SERVICES

from .conftest import PASSWORD, World
from .test_live_session_end import _closed, _listen


async def test_a_late_relayed_recovery_spares_the_new_sessions_socket(world: World) -> None:
    hub = world.http.app[SERVICES].hub
    relayed: list[Fanout] = []
    hub.relay = relayed.append  # what goes to the other processes
    client = world.new_client()
    recovery_key = await client.enroll(await world.staff_link(), "unohtaja", PASSWORD)
    old_ws = await _listen(world, client.profile.token)
    recovered = world.new_client()
    await recovered.recover(world.base, "unohtaja", recovery_key, "palautettu 2026")
    await _closed(old_ws, "recovered")
    new_ws = await _listen(world, recovered.profile.token)
    # The other process hears of the recovery only now; its sockets are this one's.
    for fanout in relayed:
        hub.apply(fanout)
    try:
        msg: aiohttp.WSMessage | None = await new_ws.receive(timeout=0.5)
    except TimeoutError:
        msg = None  # still open, nothing to say
    assert msg is None, (msg, new_ws.close_code)
    await new_ws.close()
