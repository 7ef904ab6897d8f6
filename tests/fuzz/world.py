"""A practice on the real server for the API fuzzer: sessions and ids that exist.

Without them every bearer route answers 401 and every id 404, and the fuzzer never reaches a
handler's logic. `build_world` enrolls an admin-invited therapist, opens a booklet with a title,
an entry, appointments and a period, enrolls family members, and leaves invitations pending,
all through the Python client over HTTP. What it made goes to a JSON file that
tests/fuzz/hooks.py (loaded into Schemathesis) reads.
"""

from __future__ import annotations

import functools
import json
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import aiohttp

from secure_msg.client import Client, Profile
from secure_msg.crypto.keys import derive_password_keys
from secure_msg.testing.server_process import ServerProcess
from secure_msg.testing.twilio_server import RunningTwilioServer, serve_twilio

ACCOUNT_SID = "AC" + "f" * 32
AUTH_TOKEN = "fuzz-auth-token"
FROM = "+358451239000"
PASSWORD = "correct horse battery staple"
THERAPIST_LOGIN = "tiina"
# Removable members: the fuzzer may remove them or send them notices (real ids for those routes).
FAMILY = (("guardian", "mum", "+358401112222"), ("guardian", "dad", "+358401113333"),
          ("caregiver", "nanny", "+358401114444"))
# Sessions kept aside for POST /api/logout: the fuzzer ends one per call, never the main one.
SPARE_SESSIONS = 40


@dataclass
class World:
    """What the fuzzer may use; written to JSON for the hooks."""

    base_url: str
    token: str  # the therapist's bearer session
    spare_tokens: list[str] = field(default_factory=list)
    # route → another bearer session, where the therapist's cannot get past the role check
    route_tokens: dict[str, str] = field(default_factory=dict)
    # path parameter name → real values; per route where the same name means different things
    path: dict[str, list[str]] = field(default_factory=dict)
    route_path: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # body member name → real values
    body: dict[str, list[str]] = field(default_factory=dict)

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")
        return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_twilio() -> RunningTwilioServer:
    return await serve_twilio("127.0.0.1", 0, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN,
                              callback_delay=0.02)


def start_practice(factory: Callable[..., ServerProcess], twilio: RunningTwilioServer
                   ) -> ServerProcess:
    """The server with SMS through the local Twilio server, so notices go somewhere real."""
    port = free_port()
    return factory(
        "fuzz",
        extra_toml=(f"[twilio]\naccount_sid = \"{ACCOUNT_SID}\"\nfrom_number = \"{FROM}\"\n"
                    f"api_base_url = \"{twilio.url}\"\n"
                    "[notices]\nsend_rate_per_second = 50\nscheduler_interval_ms = 200\n"),
        env={"SECURE_MSG_SERVER_PORT": str(port),
             "SECURE_MSG_SERVER_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
             "SECURE_MSG_TWILIO_AUTH_TOKEN": AUTH_TOKEN},
    )


def admin_invite(server: ServerProcess, name: str) -> str:
    """`secure-msg admin invite` against the server's database, as an operator would."""
    out = subprocess.run(
        [sys.executable, "-m", "secure_msg", "admin", "invite", "--config",
         str(server.config_path), "--role", "therapist", "--name", name, "--json"],
        check=True, capture_output=True, text=True, timeout=60,
    )
    return local_link(server, json.loads(out.stdout)["link"])


def local_link(server: ServerProcess, link: str) -> str:
    return server.base_url + link[link.index("/enroll/"):]


def link_token(link: str) -> str:
    return link.rsplit("/", 1)[-1].split("#")[0]


# PBKDF2 with 600 000 iterations per login would dominate the set-up: same password, same key.
_derive = functools.cache(derive_password_keys)


async def enroll(http: aiohttp.ClientSession, link: str, login: str) -> Client:
    client = Client(Profile(), http)
    client.derive = _derive
    await client.enroll(link, login, PASSWORD)
    return client


def _iso_days_ahead(days: int, hour: int) -> str:
    day = datetime.now(timezone(timedelta(hours=2))) + timedelta(days=days)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0).isoformat()


async def _family(server: ServerProcess, http: aiohttp.ClientSession, therapist: Client,
                  booklet: str) -> list[Client]:
    members = []
    for role, name, phone in FAMILY:
        terms = {"until": "2099-12-31", "scope": "new"} if role == "caregiver" else {}
        invite = await therapist.invite(booklet, role, name=name, phone=phone, **terms)
        members.append(await enroll(http, local_link(server, invite["link"]), f"{name}-login"))
        if role == "caregiver":  # a member once the guardians enrolled before approve
            for guardian in members[:-1]:
                await guardian.consent(booklet, members[-1].profile.account_id, "approve")
            # Her link carried no trust (§6.7): the therapist signs her into the roster.
            await therapist.roster(booklet, confirm=[members[-1].profile.account_id])
    await members[0].post(booklet, "note", text="Aamulla harjoiteltiin napitusta")
    return members


async def _appointments(therapist: Client, booklet: str) -> list[str]:
    made = []
    for days in (3, 4, 5):
        result = await therapist.api.call(
            "POST", f"/api/booklets/{booklet}/appointments",
            {"start": _iso_days_ahead(days, 10), "duration_minutes": 45})
        made.append(result["id"])
    start = datetime.now(UTC).date()
    await therapist.api.call("POST", f"/api/booklets/{booklet}/period", {
        "start": start.isoformat(), "end": (start + timedelta(days=180)).isoformat(),
        "sessions_granted": 20, "payer": "kela"})
    return made


async def _spare_sessions(server: ServerProcess, http: aiohttp.ClientSession, count: int
                          ) -> list[str]:
    tokens = []
    for _ in range(count):
        client = Client(Profile(), http)
        client.derive = _derive
        await client.login(server.base_url, THERAPIST_LOGIN, PASSWORD)
        tokens.append(client.profile.token)
    return tokens


async def build_world(server: ServerProcess, http: aiohttp.ClientSession) -> World:
    therapist = await enroll(http, admin_invite(server, "Tiina"), THERAPIST_LOGIN)
    booklet = await therapist.create_booklet("Ainon vihko")
    family = await _family(server, http, therapist, booklet)
    appointments = await _appointments(therapist, booklet)
    await therapist.post(booklet, "homework", task="Napitus", frequency="daily")
    # Another practice's booklet: its id must answer 404 to our therapist, and an invitation
    # into it is one a guardian of ours can accept (staff accounts never accept: 403).
    other = await enroll(http, admin_invite(server, "Outi"), "outi")
    foreign = await other.create_booklet("Toinen vihko")
    to_accept = [link_token((await other.invite(foreign, "guardian", name=f"g{i}"))["link"])
                 for i in range(3)]
    to_enroll = link_token((await therapist.invite(
        booklet, "caregiver", name="pending", until="2099-12-31", scope="new"))["link"])
    # Booklets of their own for closing: a closed booklet refuses every write (409), so the
    # main one stays open for the rest of the API.
    closable = [await therapist.create_booklet(f"Suljettava {i}") for i in range(3)]
    ids = [m.profile.account_id for m in family]
    return World(
        base_url=server.base_url,
        token=therapist.profile.token,
        spare_tokens=await _spare_sessions(server, http, SPARE_SESSIONS),
        route_tokens={"/api/invitations/{token}/accept": family[1].profile.token},
        # Our booklet three times in five, the other practice's once, a generated id once.
        path={"booklet_id": [booklet, booklet, booklet, foreign], "account_id": ids,
              "appointment_id": appointments},
        route_path={"/api/enroll/{token}": {"token": [to_enroll]},
                    "/api/invitations/{token}/accept": {"token": to_accept},
                    "/api/booklets/{booklet_id}/close": {"booklet_id": [*closable, foreign]},
                    "/static/{path}": {"path": ["app.css", "app/api.mjs", "icon.svg"]}},
        body={"member_id": ids, "appointment_id": appointments,
              "login": [f"{name}-login" for _, name, _ in FAMILY]},
    )
