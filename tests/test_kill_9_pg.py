"""kill -9 on PostgreSQL with two app processes: of one process, and of the database server.

Issue 18's acceptance: two real `secure-msg serve` processes on one database (the same keys,
as two hosts behind a proxy) take posts from Python clients through both at once and queue
appointment-cancellation SMS (the local Twilio-compatible server sends nothing anywhere).

- One process is killed mid-load: every entry acknowledged by either process before the kill
  is stored and readable through the survivor, chains unbroken, `admin audit verify` passes,
  and every queued notice is sent by the survivor, those the dead process had claimed too:
  the survivor sees the dead one's session lock gone and takes its claims (the processes have
  directories of their own, as on two hosts), long before their 60 s lease runs out.
- The PostgreSQL server (a throwaway cluster of this test's own, never the session's) is
  killed while posts are in flight, then restarted: nothing acknowledged is lost, each post
  that was not acknowledged got 503 service-unavailable problem+json (no hang, no 500), both
  processes stayed up, /readyz said 503 while the database was down and 200 after, and posts
  and notices go on through both. Like every test cluster it runs with synchronous_commit
  off: without the app setting it on for its sessions (storage/pg_db.py) acknowledged
  entries are lost here; without the outbox surviving a failed claim no notice queued after
  the outage is sent.
"""

from __future__ import annotations

import asyncio
import functools
import json
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from secure_msg.client import Client, ClientError, Profile
from secure_msg.client.http import b64d
from secure_msg.crypto import envelope
from secure_msg.testing.pg_cluster import PgCluster, find_bindir
from secure_msg.testing.server_pair import start_pair
from secure_msg.testing.server_process import ServerProcess
from secure_msg.testing.twilio_server import RunningTwilioServer, serve_twilio
from secure_msg.testing.two_processes import on, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]

PASSWORD = "correct horse battery staple"
ACCOUNT_SID = "AC" + "c" * 32
AUTH_TOKEN = "kill-9-auth-token"
FROM, MUM, DAD = "+358451230000", "+358401112222", "+358401113333"
DAY_MS = 86_400_000
# (a) Long: the survivor must take a dead process's claims at once, by its session lock;
# (b) short: a claim whose outcome could not be stored while the database was away (its
# owner lives on) comes back after its lease, then is reconciled with Twilio and sent.
LEASE_ONE_KILLED, LEASE_DB_KILLED = 60, 2
REQUEST_SECONDS = 20  # a post still unanswered after this is a hang


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _notices_toml(twilio: RunningTwilioServer, lease_seconds: int) -> str:
    # Slow sending (2 SMS/s per process), so that notices are still queued and claimed when a
    # process or the database dies.
    return (f"[twilio]\naccount_sid = \"{ACCOUNT_SID}\"\nfrom_number = \"{FROM}\"\n"
            f"api_base_url = \"{twilio.url}\"\n"
            "[notices]\nsend_rate_per_second = 2\nscheduler_interval_ms = 100\n"
            f"claim_lease_seconds = {lease_seconds}\nretry_base_delay_ms = 100\n"
            "retry_max_delay_ms = 1000\nreconcile_delay_ms = 200\nrequest_timeout_ms = 1000\n")


def _own_address() -> dict[str, str]:
    """A fixed port and the public URL on it: Twilio's status callbacks come back here."""
    port = _free_port()
    return {"SECURE_MSG_SERVER_PORT": str(port),
            "SECURE_MSG_SERVER_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "SECURE_MSG_TWILIO_AUTH_TOKEN": AUTH_TOKEN}


@dataclass
class Practice:
    first: ServerProcess
    second: ServerProcess
    twilio: RunningTwilioServer
    http: aiohttp.ClientSession
    therapist: Client  # on the first process
    mum: Client  # on the second
    dad: Client  # on the first
    booklet: str
    cancelled: int = 0

    async def cancel(self, count: int) -> None:
        """Schedule and cancel `count` sessions: two SMS each (mum, dad), each text its own."""
        base = (time.time_ns() // 1_000_000 + 3 * DAY_MS) // 60_000 * 60_000
        path = f"/api/booklets/{self.booklet}/appointments"
        for _ in range(count):
            start = base + self.cancelled * 3_600_000
            self.cancelled += 1
            made = await self.therapist.api.call("POST", path, {
                "start": datetime.fromtimestamp(start / 1000, tz=UTC).isoformat(),
                "duration_minutes": 45})
            await self.therapist.api.call("POST", f"{path}/{made['id']}/cancel")

    def sent(self) -> Counter[tuple[str, str]]:
        return Counter((m.to, m.body) for m in self.twilio.state.messages.values())


@pytest.fixture
async def twilio() -> AsyncIterator[RunningTwilioServer]:
    server = await serve_twilio("127.0.0.1", 0, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN,
                                callback_delay=0.02)
    yield server
    await server.close()


async def _practice(tmp_path: Path, dsn: str, twilio: RunningTwilioServer,
                    http: aiohttp.ClientSession, lease_seconds: int) -> Practice:
    first, second = start_pair(tmp_path, dsn, extra_toml=_notices_toml(twilio, lease_seconds),
                               each=(_own_address(), _own_address()))
    invite = run_cli(first, "admin", "invite", "--role", "therapist", "--name", "T",
                     "--phone", "+358401110000", "--json")
    assert invite.returncode == 0, invite.stderr
    therapist = Client(Profile(), http)
    await therapist.enroll(on(first, json.loads(invite.stdout)["link"]), "terapeutti",
                           PASSWORD)
    booklet = await therapist.create_booklet("B")
    family = []
    for name, phone, server in (("mum", MUM, second), ("dad", DAD, first)):
        link = (await therapist.invite(booklet, "guardian", name=name, phone=phone))["link"]
        member = Client(Profile(), http)
        await member.enroll(on(server, link), name, PASSWORD)
        family.append(member)
    return Practice(first, second, twilio, http, therapist, family[0], family[1], booklet)


@dataclass
class Load:
    """Posters' outcomes: ids acknowledged, and every other answer (status, problem type)."""

    acked: list[str] = field(default_factory=list)
    acked_via: Counter[str] = field(default_factory=Counter)  # by the process's address
    refused: list[tuple[int, str]] = field(default_factory=list)
    unreachable: int = 0
    hangs: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def poster(self, client: Client, booklet: str, name: str,
                     fail_over: ServerProcess | None = None) -> None:
        """Post until stopped. A process that does not answer at all (killed): on to
        `fail_over`, as a proxy would send the next request to a live one."""
        i = 0
        while not self.stop.is_set():
            try:
                result = await asyncio.wait_for(
                    client.post(booklet, "note", text=f"{name} {i}"), REQUEST_SECONDS)
            except ClientError as exc:
                if exc.code != "sequence-conflict":  # else the client's re-seals all lost
                    self.refused.append((exc.status, exc.code))
                    await asyncio.sleep(0.05)
                continue
            except TimeoutError:
                self.hangs += 1
                continue
            except (aiohttp.ClientConnectionError, OSError):
                self.unreachable += 1
                if fail_over is None:
                    return
                client.api.base_url = fail_over.base_url
                continue
            self.acked.append(str(result["entry_id"]))
            self.acked_via[client.api.base_url] += 1
            i += 1

    async def until(self, count: int, within: float = 60) -> None:
        await _wait_for(lambda: len(self.acked) >= count, within)


async def _wait_for(predicate: Callable[[], object | Awaitable[object]],
                    within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = predicate()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def _chain(reader: Client, booklet: str) -> list[str]:
    """The booklet's entry ids as `reader` reads them, checking the chain: sequences 1, 2, 3…
    each naming the hash of the one before, and the client finding nothing amiss."""
    prev, ids = envelope.ZERO_HASH, []
    for n, (raw, opened) in enumerate(await reader.read_raw(booklet), start=1):
        assert opened.header.sequence == raw["seq"] == n
        assert opened.header.prev_hash == prev
        prev = envelope.entry_hash(b64d(str(raw["envelope"])))
        ids.append(str(raw["entry_id"]))
    assert reader.history_problems[booklet] == []
    return ids


async def _status(http: aiohttp.ClientSession, server: ServerProcess, path: str) -> int:
    async with http.get(server.url(path), timeout=aiohttp.ClientTimeout(total=10)) as r:
        return r.status


async def test_kill_9_of_one_of_two_processes_loses_no_entry_and_no_notice(
    tmp_path: Path, pg_database: Callable[[], str], twilio: RunningTwilioServer,
) -> None:
    async with aiohttp.ClientSession() as http:
        p = await _practice(tmp_path, pg_database(), twilio, http, LEASE_ONE_KILLED)
        load = Load()
        posters = [asyncio.create_task(load.poster(client, p.booklet, f"{name}{i}",
                                                   fail_over=p.second))
                   for client, name in ((p.therapist, "t"), (p.mum, "m"), (p.dad, "d"))
                   for i in range(2)]
        try:
            await load.until(30)
            # 16 SMS through the first process, queued last so that the kill (right after the
            # first two are sent) comes while most are queued or claimed however slow the posts
            await p.cancel(8)
            await _wait_for(lambda: len(p.sent()) >= 2, 30)
            before_kill = list(load.acked)
            assert len(p.sent()) < 2 * p.cancelled  # some still queued or claimed
            p.first.kill()
            await load.until(len(before_kill) + 30)  # the survivor goes on taking posts
            load.stop.set()
            await asyncio.wait_for(asyncio.gather(*posters), 60)
            assert load.hangs == 0
            assert load.refused == []
            assert load.unreachable >= 1  # the posters of the first really lost it

            stored = await _chain(p.therapist, p.booklet)  # now through the survivor
            assert p.therapist.api.base_url == p.second.base_url
            assert await _chain(p.mum, p.booklet) == stored
            assert len(set(stored)) == len(stored)
            assert set(before_kill) <= set(stored)
            assert set(load.acked) <= set(stored)  # through either, before or after the kill

            # Every cancellation's two SMS are sent, those the first had claimed too.
            await _wait_for(lambda: len(p.sent()) == 2 * p.cancelled, 30)
            assert {to for to, _ in p.sent()} == {MUM, DAD}
            assert sum(p.sent().values()) - len(p.sent()) <= 4  # repeats: in flight at the kill
        finally:
            load.stop.set()
            for task in posters:
                task.cancel()
            await asyncio.gather(*posters, return_exceptions=True)
            p.first.kill()
            p.second.stop()
    verify = run_cli(p.second, "admin", "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


@pytest.fixture
def own_cluster() -> Iterator[PgCluster]:
    """A cluster this test kills: its own, never the session's (`pg_cluster`). Like every
    test cluster it runs with fsync and synchronous_commit off (cheap); a kill -9 keeps what
    was written to the WAL file (the kernel still has it), so what must hold is that the app
    commits with synchronous_commit on for its own sessions."""
    if find_bindir() is None:
        pytest.fail("PostgreSQL server binaries not found: `make postgresql`", pytrace=False)
    cluster = PgCluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


async def test_kill_9_of_the_database_server_loses_nothing_acknowledged(
    tmp_path: Path, own_cluster: PgCluster, twilio: RunningTwilioServer,
) -> None:
    async with aiohttp.ClientSession() as http:
        p = await _practice(tmp_path, own_cluster.create_database("kill9"), twilio, http,
                            LEASE_DB_KILLED)
        servers = (p.first, p.second)
        load = Load()
        posters = [asyncio.create_task(load.poster(client, p.booklet, f"{name}{i}"))
                   for client, name in ((p.therapist, "t"), (p.mum, "m"), (p.dad, "d"))
                   for i in range(2)]
        try:
            await p.cancel(6)  # 12 SMS
            await load.until(40)
            await asyncio.to_thread(own_cluster.kill)
            await asyncio.sleep(1.5)  # posts go on failing, none hangs
            for server in servers:
                assert await _status(http, server, "/readyz") == 503
                assert await _status(http, server, "/healthz") == 200
            assert load.refused, "no post failed while the database was down"
            await asyncio.to_thread(own_cluster.restart)
            for server in servers:  # the writer and readers connect again by themselves
                await _wait_for(functools.partial(_ready, http, server), 30)
            before = Counter(load.acked_via)
            await load.until(len(load.acked) + 30)
            await p.cancel(2)  # notices queued after the outage go out too
            await _wait_for(lambda: all(load.acked_via[s.base_url] > before[s.base_url]
                                        for s in servers), 30)  # through both
            load.stop.set()
            await asyncio.wait_for(asyncio.gather(*posters), 60)

            assert load.hangs == 0
            assert load.unreachable == 0
            # Each post not acknowledged was told so, as problem+json: the database is away.
            assert set(load.refused) == {(503, "service-unavailable")}
            assert all(s.process is not None and s.process.poll() is None for s in servers)

            stored = await _chain(p.therapist, p.booklet)
            assert await _chain(p.mum, p.booklet) == stored
            assert set(load.acked) <= set(stored)
            await _wait_for(lambda: len(p.sent()) == 2 * p.cancelled, 40)
        finally:
            load.stop.set()
            for task in posters:
                task.cancel()
            await asyncio.gather(*posters, return_exceptions=True)
            for server in servers:
                server.stop()
    verify = run_cli(p.first, "admin", "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


async def _ready(http: aiohttp.ClientSession, server: ServerProcess) -> bool:
    return await _status(http, server, "/readyz") == 200
