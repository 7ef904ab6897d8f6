"""The app on PostgreSQL as a least-privilege role (issue 18, docs/operations.md "Roles").

An owner role applies the migrations (`secure-msg admin migrate`) and grants the app's role
what config/postgresql-app-role.sql says: rows, not the schema; the audit log append-only.
The real server then runs as the app's role through a family's whole round — invitations,
enrolment, posts both ways, a document in the database, failed logins counted by the shared
limits, live sockets, logout — and `admin audit verify` passes. The app's role cannot rewrite
the audit log, truncate a table or create one, and when a new version's migration is pending it
refuses to start with words that say what to run, instead of a driver's permission error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import psycopg
import pytest

from secure_msg.client import Client, ClientError, Profile, blobs
from secure_msg.client.attachments import attachments_of, post_files
from secure_msg.crypto.rng import system_rng
from secure_msg.errors import ConfigError
from secure_msg.server_keys import generate_key_files
from secure_msg.storage import migrations
from secure_msg.storage.db import DATABASE_URL_ENV
from secure_msg.storage.pg_db import PgDatabase
from secure_msg.testing.pg_cluster import PgCluster
from secure_msg.testing.server_process import ServerProcess, start_server, write_test_config
from secure_msg.testing.two_processes import on

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]

PASSWORD = "correct horse battery staple"
GRANTS = Path(__file__).resolve().parents[1] / "config" / "postgresql-app-role.sql"


@dataclass(frozen=True)
class Roles:
    owner_dsn: str
    app_dsn: str
    app: str


def _dsn(cluster: PgCluster, role: str, database: str) -> str:
    return f"postgresql://{role}@/{database}?host={cluster.socket_dir}&port={cluster.port}"


@pytest.fixture
def roles(pg_cluster: PgCluster) -> Iterator[Roles]:
    """A fresh database whose public schema an owner role owns, nobody else may create in,
    and only the two roles may connect to."""
    suffix = os.urandom(4).hex()
    database, owner, app = f"roles_{suffix}", f"owner_{suffix}", f"app_{suffix}"
    pg_cluster.create_database(database)
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{owner}" LOGIN')
        conn.execute(f'CREATE ROLE "{app}" LOGIN')
        conn.execute(f'REVOKE CONNECT ON DATABASE "{database}" FROM PUBLIC')
        conn.execute(f'GRANT CONNECT ON DATABASE "{database}" TO "{owner}", "{app}"')
    with psycopg.connect(pg_cluster.dsn(database), autocommit=True) as conn:
        conn.execute(f'ALTER SCHEMA public OWNER TO "{owner}"')
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    try:
        yield Roles(_dsn(pg_cluster, owner, database), _dsn(pg_cluster, app, database), app)
    finally:
        pg_cluster.drop_database(database)
        with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{app}"')
            conn.execute(f'DROP ROLE IF EXISTS "{owner}"')


def _cli(config: Path, dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "secure_msg", *args, "--config", str(config)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "SECURE_MSG_STORAGE_BACKEND": "postgresql", DATABASE_URL_ENV: dsn})


def _grant(roles: Roles) -> None:
    """config/postgresql-app-role.sql as the operator runs it, with the test's role name."""
    script = GRANTS.read_text(encoding="utf-8").replace("secure_msg_app", f'"{roles.app}"')
    with psycopg.connect(roles.owner_dsn, autocommit=True) as conn:
        conn.execute(script.encode())


def _refused(dsn: str, sql: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn, \
            pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(sql.encode())


async def _a_family_round(server: ServerProcess, config: Path, dsn: str, tmp_path: Path
                          ) -> None:
    """Invitations, enrolment, a document and notes both ways, a live socket, failed logins
    and a logout, through the real server."""
    async with aiohttp.ClientSession() as http:
        invite = _cli(config, dsn, "admin", "invite", "--role", "therapist",
                      "--name", "T", "--json")
        assert invite.returncode == 0, invite.stderr
        therapist = Client(Profile(), http)
        await therapist.enroll(on(server, json.loads(invite.stdout)["link"]),
                               "terapeutti", PASSWORD)
        booklet = await therapist.create_booklet("Aino")
        guardian = Client(Profile(), http)
        await guardian.enroll(on(server, (await therapist.invite(booklet, "guardian"))["link"]),
                              "vanhempi", PASSWORD)
        live = await http.ws_connect(server.url("/api/live"))
        await live.send_json({"token": guardian.profile.token})
        assert (await live.receive_json(timeout=10))["type"] == "ready"

        document = tmp_path / "kotiohjelma.pdf"
        document.write_bytes(b"%PDF-1.7\n" + os.urandom(1_500_000))
        posted = await post_files(therapist, booklet, [document], text="Kotiohjelma")
        event = await live.receive_json(timeout=10)
        assert (event["type"], event["seq"]) == ("entry", posted["seq"])
        await live.close()
        await guardian.post(booklet, "note", text="Harjoiteltiin joka päivä")
        texts = [e.payload.get("text") for e in await therapist.read(booklet)]
        assert texts[-2:] == ["Kotiohjelma", "Harjoiteltiin joka päivä"]
        (attachment,) = await attachments_of(guardian, booklet, posted["seq"])
        got = bytearray()
        await blobs.download(guardian.api, booklet, attachment.blob_id, got.extend, 1 << 30)
        assert len(got) > len(document.read_bytes())  # the sealed file, in parts

        stranger = Client(Profile(), http)
        for _ in range(2):  # counted in rate_limit_failures, written by the app's role
            with pytest.raises(ClientError) as wrong:
                await stranger.login(server.base_url, "vanhempi", "not the password")
            assert wrong.value.status == 401
        await guardian.logout()


async def test_the_app_runs_as_a_role_that_cannot_change_the_schema_or_the_audit_log(
    tmp_path: Path, roles: Roles,
) -> None:
    latest = len(migrations.load_migrations(dialect="postgresql"))
    with pytest.raises(ConfigError, match="secure-msg admin migrate") as refused:
        await PgDatabase.open_dsn(roles.app_dsn)
    assert "version 0" in str(refused.value)
    assert roles.app_dsn not in str(refused.value)

    workdir = tmp_path / "server"
    workdir.mkdir()
    config = write_test_config(workdir)
    generate_key_files(workdir / "keys", system_rng)
    migrated = _cli(config, roles.owner_dsn, "admin", "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.strip() == f"database schema at version {latest}"
    _grant(roles)

    env = {"SECURE_MSG_STORAGE_BACKEND": "postgresql", DATABASE_URL_ENV: roles.app_dsn}
    server = start_server(workdir, env=env)
    try:
        await _a_family_round(server, config, roles.app_dsn, tmp_path)
    finally:
        server.stop()
    log = server.log_path.read_text(encoding="utf-8")
    assert "permission denied" not in log.lower()

    verified = _cli(config, roles.app_dsn, "admin", "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    with psycopg.connect(roles.app_dsn) as conn:
        failures = conn.execute("SELECT count(*) FROM rate_limit_failures").fetchone()
    assert failures is not None
    assert failures[0] >= 2
    _refused(roles.app_dsn, "UPDATE audit_events SET actor = 'someone else'")
    _refused(roles.app_dsn, "DELETE FROM audit_events")
    _refused(roles.app_dsn, "TRUNCATE entries")
    _refused(roles.app_dsn, "CREATE TABLE smuggled (x int)")
    _refused(roles.app_dsn, "INSERT INTO schema_version VALUES (999, 'x', 0)")


async def test_a_pending_migration_is_the_owners_to_run(tmp_path: Path, roles: Roles) -> None:
    """The schema one version behind (an upgrade's new code, not yet migrated): the app's role
    is refused with what to do, and nothing is half applied; the owner's `admin migrate`
    brings it up, and the app then starts."""
    latest = len(migrations.load_migrations(dialect="postgresql"))
    with psycopg.connect(roles.owner_dsn, autocommit=True) as conn:
        migrations.migrate_postgresql(conn, target=latest - 1)
    _grant(roles)
    with pytest.raises(ConfigError) as refused:
        await PgDatabase.open_dsn(roles.app_dsn)
    message = str(refused.value)
    assert f"version {latest - 1}" in message
    assert f"needs {latest}" in message
    assert "secure-msg admin migrate" in message
    with psycopg.connect(roles.owner_dsn) as conn:
        assert migrations.current_version_postgresql(conn) == latest - 1

    workdir = tmp_path / "server"
    workdir.mkdir()
    config = write_test_config(workdir)
    generate_key_files(workdir / "keys", system_rng)
    migrated = _cli(config, roles.owner_dsn, "admin", "migrate")
    assert migrated.stdout.strip() == f"database schema at version {latest}", migrated.stderr
    _grant(roles)
    database = await PgDatabase.open_dsn(roles.app_dsn)
    await database.close()
