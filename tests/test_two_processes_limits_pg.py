"""Two app processes on one PostgreSQL database share the login and inbound limits (issue 18).

Two real servers (`secure-msg serve`, the same keys, one database) behind a "proxy" at
127.0.0.1, so X-Forwarded-For stands for the client's address. A stranger guesses through the
first process until the per-name-and-address limit is full; then the second process refuses
the stranger's next guess with 429 and Retry-After, and even the right password from that
address, until the window passes, exactly as one process does (tests/api/test_login_limits.py).
The owner, at home, logs in through the second at once. With the failures counted in each
process's memory the second process would let the stranger guess five more times.

Likewise the inbound SMS limits: a stranger's neutral reply and failed cancels spent through one
process are spent on the other.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import psycopg
import pytest

from secure_msg.client import Client, ClientError, Profile
from secure_msg.client.http import b64e
from secure_msg.config import AccountsConfig
from secure_msg.services.inbound_service import MAX_FAILED_CANCELS
from secure_msg.testing.server_pair import start_pair
from secure_msg.testing.server_process import ServerProcess
from secure_msg.testing.twilio_webhooks import inbound_sms_params, post_webhook

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]

PASSWORD = "correct horse battery staple"
WINDOW = 8  # seconds: long enough for the guesses, short enough to wait out
LIMIT = AccountsConfig().login_max_failures
STRANGER, HOME = "203.0.113.7", "198.51.100.10"
STRANGER_PHONE = "+358409999999"
ENV = {"SECURE_MSG_SERVER_TRUSTED_PROXIES": "127.0.0.1",
       "SECURE_MSG_ACCOUNTS_LOGIN_WINDOW_SECONDS": str(WINDOW)}


def _invite(server: ServerProcess) -> str:
    """`secure-msg admin invite` against the server's database (the DSN is in its env)."""
    out = subprocess.run(
        [sys.executable, "-m", "secure_msg", "admin", "invite", "--role", "therapist",
         "--name", "Owner", "--json", "--config", str(server.config_path)],
        capture_output=True, text=True, timeout=120, check=True,
        env={**os.environ, **server.env})
    link: str = json.loads(out.stdout)["link"]
    return server.base_url + link[link.index("/enroll/"):]


async def _guess(http: aiohttp.ClientSession, server: ServerProcess) -> tuple[int, str | None]:
    async with http.post(server.url("/api/login"),
                         json={"login": "kohde", "auth_key": b64e(b"\x07" * 32)},
                         headers={"X-Forwarded-For": STRANGER}) as resp:
        await resp.read()
        return resp.status, resp.headers.get("Retry-After")


async def _login(server: ServerProcess, address: str) -> None:
    async with aiohttp.ClientSession(headers={"X-Forwarded-For": address}) as http:
        await Client(Profile(), http).login(server.base_url, "kohde", PASSWORD)


async def test_a_login_limit_reached_through_one_process_holds_on_the_other(
    tmp_path: Path, pg_database: Callable[[], str],
) -> None:
    first, second = start_pair(tmp_path, pg_database(), env=ENV)
    try:
        async with aiohttp.ClientSession() as http:
            async with aiohttp.ClientSession(headers={"X-Forwarded-For": HOME}) as home:
                await Client(Profile(), home).enroll(_invite(first), "kohde",
                                                     PASSWORD)
            full_at = time.monotonic()
            assert [(await _guess(http, first))[0] for _ in range(LIMIT)] == [401] * LIMIT
            status, retry_after = await _guess(http, second)
            assert status == 429
            assert retry_after is not None
            assert 0 < int(retry_after) <= WINDOW
            with pytest.raises(ClientError) as refused:  # the right password, same address
                await _login(second, STRANGER)
            assert refused.value.status == 429
            await _login(second, HOME)  # the owner's own pair is untouched
            # Once the window has passed, the stranger's address may try again, on either.
            await asyncio.sleep(max(0.0, WINDOW - (time.monotonic() - full_at)) + 1)
            await _login(second, STRANGER)
    finally:
        second.stop()
        first.stop()


ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "practice-auth-token"
PUBLIC = "https://msg.example"  # the proxy's address: what Twilio signs, the same for both
TWILIO_TOML = (f"[twilio]\naccount_sid = \"{ACCOUNT_SID}\"\nfrom_number = \"+358451230000\"\n"
               "api_base_url = \"http://127.0.0.1:9\"\n")
SMS_PATH = "/webhooks/twilio/sms"


async def _sms(http: aiohttp.ClientSession, server: ServerProcess, body: str) -> str:
    params = inbound_sms_params(account_sid=ACCOUNT_SID, from_=STRANGER_PHONE,
                                to="+358451230000", body=body)
    reply = await post_webhook(server.url(SMS_PATH), params, auth_token=AUTH_TOKEN,
                               signed_url=PUBLIC + SMS_PATH, session=http)
    assert reply.status == 200
    return reply.body


def _refusals(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM audit_events"
                           " WHERE action = 'appointment.cancel_refused'").fetchone()
    assert row is not None
    return int(row[0])


async def test_inbound_limits_reached_through_one_process_hold_on_the_other(
    tmp_path: Path, pg_database: Callable[[], str],
) -> None:
    """A stranger's number: its one neutral reply a day, and its five failed cancels, spent
    through the first process, are spent on the second too: silence there, and the sixth
    cancel attempt is refused and audited as on one process."""
    dsn = pg_database()
    first, second = start_pair(
        tmp_path, dsn, extra_toml=TWILIO_TOML,
        env={"SECURE_MSG_SERVER_PUBLIC_BASE_URL": PUBLIC,
             "SECURE_MSG_TWILIO_AUTH_TOKEN": AUTH_TOKEN})
    try:
        async with aiohttp.ClientSession() as http:
            assert "<Message>" in await _sms(http, first, "hei?")
            assert "<Message>" not in await _sms(http, second, "hei?")
            for _ in range(MAX_FAILED_CANCELS):
                await _sms(http, first, "PERU 0000")
            assert _refusals(dsn) == 0
            await _sms(http, second, "PERU 0000")
            assert _refusals(dsn) == 1
    finally:
        second.stop()
        first.stop()
