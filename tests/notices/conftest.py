"""A practice on the real server (a subprocess) wired to the local Twilio-compatible server.

Every SMS and WhatsApp message (its ContentVariables) the Twilio server captured is scanned for
canaries and child names at teardown.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from email import message_from_bytes
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiosmtpd.controller import Controller

from secure_msg.client import Client, Profile
from secure_msg.testing import contract_server
from secure_msg.testing.clock import ENV_VAR, set_offset
from secure_msg.testing.server_process import ServerProcess
from secure_msg.testing.twilio_server import RunningTwilioServer, serve_twilio
from secure_msg.testing.twilio_webhooks import (
    SignatureMode,
    WebhookReply,
    send_inbound_sms,
    send_voice_webhook,
)

ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "practice-auth-token"
FROM = "+358451230000"
THERAPIST_PHONE = "+358401110000"
MUM_PHONE = "+358401112222"
DAD_PHONE = "+358401113333"
NANNY_PHONE = "+358401114444"  # a caregiver (daycare), when a test adds one
PASSWORD = "correct horse battery staple"
HELSINKI = ZoneInfo("Europe/Helsinki")
# Never allowed in any SMS or e-mail: booklet content, the child's name, "therapy", the practice.
CANARIES = ("CANARY-TITLE-Aino-7f3a", "Aino", "terapia", "therapy", "Toimintaterapia Oy")
CAPTURED: list[str] = []  # every outbound body of the session
DAY = 86_400_000
STRANGER_PHONE = "+358409999999"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def local_ms(year: int, month: int, day: int, hour: int, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=HELSINKI).timestamp() * 1000)


def steady_day(offset_days: int, span: int = 3) -> date:
    """The first day at least `offset_days` from today (Helsinki) whose next `span` days keep one
    UTC offset. A reminder is due 24 h (in ms) before its appointment; a test that moves the
    clock to the same local hour the day before would wait an hour too little across the
    October change."""
    day = datetime.now(HELSINKI).date() + timedelta(days=offset_days)
    while len({datetime.combine(day + timedelta(days=i), dtime(12), HELSINKI).utcoffset()
                for i in range(span + 1)}) > 1:
        day += timedelta(days=1)
    return day


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=HELSINKI).isoformat()


def soon() -> int:
    """A start three days from now, on the minute."""
    return (time.time_ns() // 1_000_000 + 3 * DAY) // 60_000 * 60_000


@dataclass
class Practice:
    server: ServerProcess
    twilio: RunningTwilioServer
    http: aiohttp.ClientSession
    clock_file: Path
    therapist: Client = field(init=False)
    mum: Client = field(init=False)
    dad: Client = field(init=False)
    booklet: str = ""

    @property
    def public(self) -> str:
        return self.server.base_url

    def set_now(self, ms: int) -> None:
        """Move the server's clock so that its now is `ms` (it keeps running from there)."""
        set_offset(self.clock_file, ms - time.time_ns() // 1_000_000)

    async def call(self, who: Client, method: str, path: str, body: Any = None) -> Any:
        return await who.api.call(method, path, body)

    async def schedule(self, start_ms: int) -> dict[str, Any]:
        result: dict[str, Any] = await self.call(
            self.therapist, "POST", f"/api/booklets/{self.booklet}/appointments",
            {"start": iso(start_ms), "duration_minutes": 45})
        return result

    async def join(self, role: str, name: str, phone: str, language: str = "fi") -> Client:
        """Invite and enrol a family member with this phone (and language) into the booklet;
        a caregiver (until 2099) is a member once mum and dad approve, which they do."""
        terms = {"until": "2099-12-31", "scope": "new"} if role == "caregiver" else {}
        invite = await self.therapist.invite(self.booklet, role, name=name, phone=phone,
                                             email=f"{name}@example.fi", language=language,
                                             **terms)
        link = self.public + invite["link"][invite["link"].index("/enroll/"):]
        joined = await _enroll(self.http, link, f"{name}-login", language)
        if role == "caregiver":
            for guardian in (self.mum, self.dad):
                await guardian.consent(self.booklet, joined.profile.account_id, "approve")
        return joined

    async def sms(self, body: str, *, sid: str | None = None, frm: str = MUM_PHONE,
                  mode: SignatureMode = SignatureMode.VALID) -> WebhookReply:
        """A signed inbound SMS from `frm` to the practice number."""
        return await send_inbound_sms(
            self.server.url("/webhooks/twilio/sms"), auth_token=AUTH_TOKEN,
            account_sid=ACCOUNT_SID, from_=frm, to=FROM, body=body, message_sid=sid, mode=mode,
            session=self.http)

    async def phone(self, url: str, *, frm: str = MUM_PHONE, digits: str | None = None,
                    mode: SignatureMode = SignatureMode.VALID) -> WebhookReply:
        """A signed incoming-call webhook (or, with `digits`, its key press) from `frm`."""
        return await send_voice_webhook(url, auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID,
                                        from_=frm, to=FROM, digits=digits, mode=mode,
                                        session=self.http)

    async def appointments(self) -> dict[str, dict[str, Any]]:
        rows = await self.call(self.therapist, "GET", f"/api/booklets/{self.booklet}/appointments")
        return {a["id"]: a for a in rows["appointments"]}

    async def notices(self) -> list[dict[str, Any]]:
        rows = await self.call(self.therapist, "GET", f"/api/booklets/{self.booklet}/notices")
        result: list[dict[str, Any]] = rows["notices"]
        return result

    def messages(self, to: str | None = None) -> list[Any]:
        return [m for m in self.twilio.state.messages.values() if to in (None, m.to)]

    async def wait_for(self, predicate: Callable[[], Any], within: float = 15.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            result = predicate()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("condition not met in time")

    async def faults(self, **fault: Any) -> None:
        async with self.http.post(f"{self.twilio.url}/_dev/faults", json=fault) as response:
            assert response.status == 200, await response.text()


def admin_invite(server: ServerProcess, phone: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "secure_msg", "admin", "invite", "--config",
         str(server.config_path), "--role", "therapist", "--name", "Tiina", "--phone", phone,
         "--json"], check=True, capture_output=True, text=True, timeout=60,
        env={**os.environ, **server.env},  # the server's database (its backend, its DSN)
    )
    link: str = json.loads(out.stdout)["link"]
    return server.base_url + link[link.index("/enroll/"):]


def scan_outbound(bodies: list[str]) -> list[tuple[str, str]]:
    return [(b, c) for b in bodies for c in CANARIES if c.lower() in b.lower()]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()
    bodies = [message_from_bytes(m).get_payload(decode=True).decode() for m in inbox.messages]
    CAPTURED.extend(bodies)
    assert scan_outbound(bodies) == []


@pytest.fixture
async def practice_factory(
    server_factory: Callable[..., ServerProcess], tmp_path: Path,
) -> AsyncIterator[Callable[..., Any]]:
    twilio = await serve_twilio("127.0.0.1", 0, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN,
                                callback_delay=0.02)
    http = aiohttp.ClientSession()
    made: list[Practice] = []
    contract_log = tmp_path / "contract-violations.txt"

    async def make(extra_toml: str = "", rate: int = 50,
                   notices: Mapping[str, int] | None = None) -> Practice:
        """`notices` overrides the fast [notices] timings below; `extra_toml` goes after them
        (more [notices] keys, or tables of its own)."""
        port = free_port()
        clock_file = tmp_path / "clock-offset"
        set_offset(clock_file, 0)
        timings = {"send_rate_per_second": rate, "scheduler_interval_ms": 100,
                   "claim_lease_seconds": 2, "retry_base_delay_ms": 100,
                   "retry_max_delay_ms": 1000, "reconcile_delay_ms": 200,
                   "request_timeout_ms": 1000, **(notices or {})}
        server = server_factory(
            "practice",
            extra_toml=(
                f"[twilio]\naccount_sid = \"{ACCOUNT_SID}\"\nfrom_number = \"{FROM}\"\n"
                f"api_base_url = \"{twilio.url}\"\n[notices]\n"
                + "".join(f"{k} = {v}\n" for k, v in timings.items()) + extra_toml),
            env={"SECURE_MSG_SERVER_PORT": str(port),
                 "SECURE_MSG_SERVER_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
                 "SECURE_MSG_TWILIO_AUTH_TOKEN": AUTH_TOKEN, ENV_VAR: str(clock_file),
                 contract_server.LOG_ENV: str(contract_log)},
            module_args=contract_server.CONTRACT_SERVER,  # every answer checked, see teardown
        )
        p = Practice(server, twilio, http, clock_file)
        p.therapist = await _enroll(http, admin_invite(server, THERAPIST_PHONE), "tiina")
        p.booklet = await p.therapist.create_booklet(CANARIES[0])
        p.mum = await p.join("guardian", "mum", MUM_PHONE)
        p.dad = await p.join("guardian", "dad", DAD_PHONE)
        made.append(p)
        return p

    yield make
    # WhatsApp messages carry no body: their ContentVariables are what leaves, so scan those too.
    bodies = [m.body for m in twilio.state.messages.values()] + [
        m.content_variables or "" for m in twilio.state.messages.values()]
    CAPTURED.extend(bodies)
    await http.close()
    await twilio.close()
    assert scan_outbound(bodies) == []
    assert contract_server.violations(contract_log) == [], "answers outside /api/openapi.json"


async def _enroll(http: aiohttp.ClientSession, link: str, login: str, language: str = "fi"
                  ) -> Client:
    client = Client(Profile(), http)
    await client.enroll(link, login, PASSWORD, language)
    return client
