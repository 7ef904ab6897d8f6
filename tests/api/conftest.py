"""An in-process server (real SQLite file, real keys) and people who use it through the Python
client. PBKDF2 is memoised per (password, salt) so a test pays it once per person."""

from __future__ import annotations

import functools
import sqlite3
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from secure_msg.client import Client, Profile
from secure_msg.clock import FixedClock
from secure_msg.crypto import keys
from secure_msg.crypto.rng import system_rng
from secure_msg.model.invitations import InvitationRequest
from secure_msg.model.roles import Role
from secure_msg.services import invitation_service
from secure_msg.storage.db import database_files
from secure_msg.storage.txn import Txn
from secure_msg.web.services import SERVICES

PASSWORD = "kaksi kissaa ja koira"
derive = functools.lru_cache(maxsize=256)(keys.derive_password_keys)


CAREGIVER_UNTIL = "2099-12-31"


@dataclass
class World:
    http: TestClient[web.Request, web.Application]
    clock: FixedClock
    # The guardians `family` enrolled, per booklet: they approve each caregiver it enrolls.
    guardians: dict[str, list[Client]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return str(self.http.make_url("")).rstrip("/")

    def new_client(self) -> Client:
        client = Client(Profile(server=self.base), self.http.session)
        client.derive = derive
        client.now_ms = self.clock.now_ms
        return client

    async def staff_link(self, role: Role = Role.THERAPIST, name: str = "T") -> str:
        runtime = self.http.app[SERVICES]
        issued = await invitation_service.issue_staff(
            runtime.db, runtime.vault, self.clock, system_rng,
            request=InvitationRequest(role, name), lifetime_days=7,
        )
        return issued.link(self.base)

    async def therapist(self, login: str = "terapeutti") -> Client:
        client = self.new_client()
        await client.enroll(await self.staff_link(), login, PASSWORD)
        return client

    async def family(self, therapist: Client, booklet: str, login: str,
                     role: str = "guardian", *, grant_title: bool = True,
                     sign_in: bool = True) -> Client:
        """A guardian, or a caregiver (until CAREGIVER_UNTIL, new entries) whom every guardian
        enrolled here so far approves, as a member of the booklet; `sign_in=False` leaves a
        caregiver out of the therapist's roster until her next post confirms her."""
        terms = {"until": CAREGIVER_UNTIL, "scope": "new"} if role == "caregiver" else {}
        link = (await therapist.invite(booklet, role, name=login, **terms))["link"]
        client = self.new_client()
        await client.enroll(self.base + link[link.index("/enroll/"):], login, PASSWORD)
        if role == "caregiver":
            await self.consent_all(booklet, client.profile.account_id)
            # A caregiver's link carries no trust (§6.7): the therapist confirms her, which
            # signs her into the roster, or every other member's client refuses her (§6.6).
            if sign_in:
                await therapist.roster(booklet, confirm=[client.profile.account_id])
        else:
            self.guardians.setdefault(booklet, []).append(client)
        if grant_title:
            await therapist.grant_history(booklet, client.profile.account_id, {"title"})
        return client

    async def consent_all(self, booklet: str, caregiver_id: str) -> None:
        """Every guardian `family` enrolled in the booklet approves the caregiver."""
        for guardian in self.guardians.get(booklet, []):
            await guardian.consent(booklet, caregiver_id, "approve")

    async def server_sql(self, sql: str, *params: object) -> None:
        """Edit the server's database behind its back, as an operator with write access could:
        how tests play the threat model's malicious server."""
        db = self.http.app[SERVICES].db

        def txn(conn: sqlite3.Connection) -> None:
            conn.execute(sql, params)

        await db.write(txn)

    async def stored_bytes(self) -> bytes:
        """Everything the server's database holds, to search for what must never be there:
        SQLite's files as they are on disk; on PostgreSQL (whose files are the cluster's)
        every value of every row of every table, bytea as stored and the rest as text."""
        runtime = self.http.app[SERVICES]
        storage = runtime.config.storage
        if storage.backend == "sqlite":
            return b"".join(f.read_bytes() for f in database_files(storage.database_path)
                            if f.exists())

        def dump(t: Txn) -> bytes:
            tables = [r[0] for r in t.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema()")]
            return b"\n".join(
                value if isinstance(value, bytes) else str(value).encode()
                for table in tables
                for row in t.execute(f'SELECT * FROM "{table}"')  # noqa: S608
                for value in row)

        return await runtime.db.read(dump)

    async def raw(self, method: str, path: str, token: str | None = None,
                  **kwargs: Any) -> tuple[int, Any]:
        headers = {**kwargs.pop("headers", {}),
                   **({"Authorization": f"Bearer {token}"} if token else {})}
        async with self.http.request(method, path, headers=headers, **kwargs) as resp:
            ctype = resp.headers.get("Content-Type", "")
            body = await resp.json(content_type=None) if "json" in ctype else await resp.text()
            return resp.status, body


@pytest.fixture
async def world(client: TestClient[web.Request, web.Application], clock: FixedClock) -> World:
    return World(client, clock)
