"""Live events across two app processes on one PostgreSQL database (issue 18).

Two real servers (`secure-msg serve`, the same keys, one database): a therapist works through
the first, a guardian's live socket (/api/live) is connected to the second. What the first
process fans out reaches the second's socket through PostgreSQL LISTEN/NOTIFY
(services/live_bus.py), at once, with the same ids as a socket on the first process gets:
a new entry, a grant and a removal; a logout through the first closes the session's socket on
the second (not at its 60 s recheck). A notification forged by another role on the database is
refused. The listeners connect again after their connections are ended (pg_terminate_backend),
and later events arrive.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from secure_msg.client import Client, Profile
from secure_msg.services import live_wire
from secure_msg.testing.server_pair import start_pair
from secure_msg.testing.server_process import ServerProcess
from secure_msg.testing.two_processes import on, run_cli
from secure_msg.web.live import SESSION_ENDED

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]

PASSWORD = "correct horse battery staple"
PROMPTLY = 5.0  # a bound on what happens at once; the recheck alone would take 60 s


@dataclass
class Pair:
    first: ServerProcess
    second: ServerProcess
    dsn: str
    http: aiohttp.ClientSession
    therapist: Client  # on the first process
    guardian: Client  # on the second
    booklet: str

    async def listen(self, server: ServerProcess, token: str) -> aiohttp.ClientWebSocketResponse:
        ws = await self.http.ws_connect(server.base_url + "/api/live")
        await ws.send_json({"token": token})
        assert (await ws.receive_json(timeout=PROMPTLY))["type"] == "ready"
        return ws

    async def settle(self, *sockets: aiohttp.ClientWebSocketResponse) -> None:
        """Let what the set-up fanned out arrive and skip it (the guardian's enrolment on the
        second process makes a grant, relayed to the first a moment later): a post through
        each process, each socket read up to both entries. Each process's events reach the
        other in the order it sent them, so nothing older can come after."""
        seqs = {(await self.therapist.post(self.booklet, "note", text="alku"))["seq"],
                (await self.guardian.post(self.booklet, "note", text="alku"))["seq"]}
        for ws in sockets:
            seen: set[int] = set()
            while seen != seqs:
                event = await ws.receive_json(timeout=PROMPTLY)
                if event["type"] == "entry":
                    seen.add(event["seq"])


@pytest.fixture
async def pair(tmp_path: Path, pg_database: Callable[[], str]) -> AsyncIterator[Pair]:
    dsn = pg_database()
    first, second = start_pair(tmp_path, dsn)
    try:
        async with aiohttp.ClientSession() as http:
            invite = run_cli(first, "admin", "invite", "--role", "therapist", "--name", "T",
                             "--json")
            assert invite.returncode == 0, invite.stderr
            therapist = Client(Profile(), http)
            await therapist.enroll(on(first, json.loads(invite.stdout)["link"]), "terapeutti",
                                   PASSWORD)
            booklet = await therapist.create_booklet("B")
            guardian = Client(Profile(), http)
            link = (await therapist.invite(booklet, "guardian", name="aiti"))["link"]
            await guardian.enroll(on(second, link), "aiti", PASSWORD)
            assert (therapist.api.base_url, guardian.api.base_url) == (first.base_url,
                                                                       second.base_url)
            yield Pair(first, second, dsn, http, therapist, guardian, booklet)
    finally:
        first.stop()
        second.stop()


async def _event(ws: aiohttp.ClientWebSocketResponse) -> Any:
    return await ws.receive_json(timeout=PROMPTLY)


async def _metrics(pair: Pair, server: ServerProcess) -> dict[str, float]:
    """The unlabelled samples of a process's /metrics, by name."""
    async with pair.http.get(server.base_url + "/metrics") as response:
        assert response.status == 200
        text = await response.text()
    return {sample.name: sample.value for family in text_string_to_metric_families(text)
            for sample in family.samples if not sample.labels}


async def test_a_post_on_one_process_reaches_a_socket_on_the_other(pair: Pair) -> None:
    """The guardian's socket on the second process gets the entry posted through the first,
    the very event a socket on the first gets: ids and numbers only."""
    on_second = await pair.listen(pair.second, pair.guardian.profile.token)
    on_first = await pair.listen(pair.first, pair.guardian.profile.token)
    await pair.settle(on_second, on_first)
    for n in range(3):
        posted = await pair.therapist.post(pair.booklet, "note", text=f"hei {n}")
        expected = {"type": "entry", "booklet_id": pair.booklet, "seq": posted["seq"],
                    "kind": 2, "author_id": pair.therapist.profile.account_id}
        assert await _event(on_second) == expected
        assert await _event(on_first) == expected
    # And the other way: the guardian posts through the second, the therapist hears on the first.
    therapist_ws = await pair.listen(pair.first, pair.therapist.profile.token)
    await pair.settle(therapist_ws, on_first, on_second)
    posted = await pair.guardian.post(pair.booklet, "note", text="kiitos")
    assert await _event(therapist_ws) == {
        "type": "entry", "booklet_id": pair.booklet, "seq": posted["seq"], "kind": 2,
        "author_id": pair.guardian.profile.account_id}
    # /metrics: each relayed what was made on it, and applied the other's; nothing refused
    first, second = await _metrics(pair, pair.first), await _metrics(pair, pair.second)
    assert first["secure_msg_live_sockets"] == 2  # on_first and the therapist's
    assert second["secure_msg_live_sockets"] == 1
    assert first["secure_msg_live_bus_relayed_total"] >= 3 + 2  # the posts, settle's, …
    assert second["secure_msg_live_bus_applied_total"] >= 3 + 2
    assert first["secure_msg_live_bus_applied_total"] >= 1 + 2
    assert first["secure_msg_live_bus_rejected_total"] == 0
    assert second["secure_msg_live_bus_rejected_total"] == 0
    for ws in (on_first, on_second, therapist_ws):
        await ws.close()


async def test_a_logout_on_one_process_closes_the_sessions_socket_on_the_other(
    pair: Pair,
) -> None:
    """The guardian's phone logs in and out through the first process; its socket on the
    second closes at once, saying why; her other session's socket there stays and hears on."""
    phone = Client(Profile(), pair.http)
    await phone.login(pair.first.base_url, "aiti", PASSWORD)
    phone_ws = await pair.listen(pair.second, phone.profile.token)
    other_ws = await pair.listen(pair.second, pair.guardian.profile.token)
    started = time.monotonic()
    await phone.logout()
    msg = await phone_ws.receive(timeout=PROMPTLY)
    assert msg.type is aiohttp.WSMsgType.CLOSE, msg
    assert (phone_ws.close_code, msg.extra) == (SESSION_ENDED, "logged-out")
    assert time.monotonic() - started < PROMPTLY
    posted = await pair.therapist.post(pair.booklet, "note", text="hei")
    assert (await _event(other_ws))["seq"] == posted["seq"]
    await other_ws.close()


async def test_a_grant_and_a_removal_on_one_process_reach_the_other(pair: Pair) -> None:
    """History granted through the first process is told to the grantee's socket on the
    second; so is her removal, after which that booklet's entries no longer reach her."""
    ws = await pair.listen(pair.second, pair.guardian.profile.token)
    await pair.settle(ws)
    await pair.therapist.grant_history(pair.booklet, pair.guardian.profile.account_id,
                                       {"title"})
    assert await _event(ws) == {"type": "grant", "booklet_id": pair.booklet}
    await pair.therapist.remove(pair.booklet, pair.guardian.profile.account_id)
    assert await _event(ws) == {"type": "removed", "booklet_id": pair.booklet}
    await pair.therapist.post(pair.booklet, "note", text="ei äidille")
    with pytest.raises(TimeoutError):
        await ws.receive(timeout=1.0)
    await ws.close()


def _live_backends(dsn: str) -> dict[int, str]:
    """The app's LISTEN and NOTIFY connections on the database: pid → last statement."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid, query FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = 'secure-msg'"
            " AND (query LIKE 'LISTEN%%' OR query LIKE '%%pg_notify%%')").fetchall()
    return {int(pid): str(query) for pid, query in rows}


async def test_a_forged_notification_is_refused(pair: Pair) -> None:
    """Any role that may connect to the database may NOTIFY on the channel. What it sends
    without the server's keys — here the clear text of "every session of the guardian ended",
    and noise — is logged by both processes and changes nothing: her socket stays open and
    hears the next post."""
    ws = await pair.listen(pair.second, pair.guardian.profile.token)
    await pair.settle(ws)
    guardian = live_wire.encode_id(bytes.fromhex(pair.guardian.profile.account_id))
    with psycopg.connect(pair.dsn, autocommit=True) as conn:
        for payload in (f"v1 CQkJCQkJCQk a {guardian} - password-changed",
                        f"v1 CQkJCQkJCQk 7 {guardian}", "\x01 nonsense"):
            conn.execute("SELECT pg_notify('secure_msg_live', %s)", (payload,))
    posted = await pair.therapist.post(pair.booklet, "note", text="hei")
    assert await _event(ws) == {"type": "entry", "booklet_id": pair.booklet,
                                "seq": posted["seq"], "kind": 2,
                                "author_id": pair.therapist.profile.account_id}
    await ws.close()
    for server in (pair.first, pair.second):
        log = server.log_path.read_text(encoding="utf-8")
        assert log.count('"live.bad_payload"') == 3
        assert guardian not in log
        assert (await _metrics(pair, server))["secure_msg_live_bus_rejected_total"] == 3


async def test_listeners_connect_again_after_their_connections_are_ended(pair: Pair) -> None:
    """pg_terminate_backend ends both processes' listener and sender connections; each
    listener says so, connects again, and the next post still reaches the other process."""
    ws = await pair.listen(pair.second, pair.guardian.profile.token)
    await pair.settle(ws)  # each process has sent something: both have a sender connection
    ended = _live_backends(pair.dsn)
    assert sorted(q.split()[0] for q in ended.values()) == ["LISTEN", "LISTEN", "SELECT",
                                                           "SELECT"]
    with psycopg.connect(pair.dsn, autocommit=True) as conn:
        for pid in ended:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    deadline = time.monotonic() + 10
    while True:
        listening = [pid for pid, q in _live_backends(pair.dsn).items()
                     if q.startswith("LISTEN") and pid not in ended]
        if len(listening) == 2:
            break
        assert time.monotonic() < deadline, "the listeners did not connect again"
        await asyncio.sleep(0.05)
    for n in range(3):  # the sender's first try finds its connection gone and makes a new one
        posted = await pair.therapist.post(pair.booklet, "note", text=f"jälkeen {n}")
        assert (await _event(ws))["seq"] == posted["seq"]
    await ws.close()
    for server in (pair.first, pair.second):
        log = server.log_path.read_text(encoding="utf-8")
        assert '"live.listener_lost"' in log
        assert '"live.listener_reconnected"' in log
        assert (await _metrics(pair, server))["secure_msg_live_bus_listener_reconnects_total"] >= 1
