"""`secure-msg admin migrate-to-postgresql` (issue 18): a populated SQLite installation moves
to PostgreSQL, every member reads every entry there, and `admin audit verify` passes.

The source is made once per module by the real server (`secure-msg serve` on SQLite) driven by
the Python client: a therapist, three booklets, guardians (one with a phone, whose invitation
went out by SMS), a caregiver with every guardian's consent, history grants, notes by every
member, a document with a file, appointments, read receipts, synced client state; the audit
trail is what all that wrote. Each test copies it and migrates the copy with the real command.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest

from secure_msg.cli import main
from secure_msg.client import Client, Profile
from secure_msg.client.attachments import attachments_of, post_files, save_file
from secure_msg.crypto import keys
from secure_msg.storage import migrations
from secure_msg.storage.blob_copy import BlobRef
from secure_msg.storage.db import DATABASE_URL_ENV
from secure_msg.testing.pg_cluster import PgCluster
from secure_msg.testing.server_process import ServerProcess, start_server, write_test_config
from secure_msg.testing.two_processes import on

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]

PASSWORD = "neljä kissaa ja kaksi koiraa"
derive = functools.lru_cache(maxsize=64)(keys.derive_password_keys)
DOCUMENT = os.urandom(70_000)  # more than one chunk of the file format


def _cli(config: Path, *args: str, env: dict[str, str] | None = None,
         ) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SECURE_MSG_")}
    return subprocess.run(
        [sys.executable, "-m", "secure_msg", *args, "--config", str(config)],
        capture_output=True, text=True, timeout=300, check=False, env={**clean, **(env or {})})


def _migrate(config: Path, dsn: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    return _cli(config, "admin", "migrate-to-postgresql", *args,
                env={DATABASE_URL_ENV: dsn} if dsn else {})


Migrate = Callable[[Path, str | None], tuple[int, str]]


@pytest.fixture
def migrate(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
            ) -> Callable[[Path, str | None], tuple[int, str]]:
    """The command in this process (a subprocess costs seconds of start-up): (exit code,
    stderr)."""
    def run(config: Path, dsn: str | None) -> tuple[int, str]:
        for name in [n for n in os.environ if n.startswith("SECURE_MSG_")]:
            monkeypatch.delenv(name)
        if dsn:
            monkeypatch.setenv(DATABASE_URL_ENV, dsn)
        code = main(["admin", "migrate-to-postgresql", "--config", str(config)])
        return code, capsys.readouterr().err

    return run


@dataclass
class Person:
    login: str
    profile: Profile
    booklets: list[str] = field(default_factory=list)


@dataclass
class Site:
    """What the source installation holds, as its members know it."""

    workdir: Path
    people: list[Person]
    texts: dict[str, list[str]]  # booklet → every note's text, in order
    document: tuple[str, int]  # (booklet, seq) of the document entry
    counts: dict[str, int]

    @property
    def config(self) -> Path:
        return self.workdir / "secure-msg.toml"

    @property
    def db_path(self) -> Path:
        return self.workdir / "var" / "secure-msg.db"


def _client(http: aiohttp.ClientSession, profile: Profile | None = None) -> Client:
    client = Client(profile or Profile(), http)
    client.derive = derive
    return client


async def _populate(server: ServerProcess, tmp: Path) -> tuple[list[Person], dict[str, list[str]],
                                                               tuple[str, int]]:
    async with aiohttp.ClientSession() as http:
        invite = _cli(server.config_path, "admin", "invite", "--role", "therapist", "--name",
                      "T", "--json")
        assert invite.returncode == 0, invite.stderr
        therapist = _client(http)
        await therapist.enroll(on(server, json.loads(invite.stdout)["link"]), "terapeutti",
                               PASSWORD)
        booklets = [await therapist.create_booklet(title) for title in ("Aino", "Eero", "Ilo")]
        members: list[tuple[str, Client, list[str]]] = [("terapeutti", therapist, booklets)]

        mum = _client(http)
        link = (await therapist.invite(booklets[0], "guardian", name="Äiti",
                                       phone="040-123 4567", send=["sms"]))["link"]
        await mum.enroll(on(server, link), "aiti", PASSWORD)
        await mum.accept((await therapist.invite(booklets[1], "guardian"))["link"])
        dad = _client(http)
        await dad.enroll(on(server, (await therapist.invite(booklets[0], "guardian"))["link"]),
                         "isa", PASSWORD)
        third = _client(http)
        await third.enroll(on(server, (await therapist.invite(booklets[2], "guardian"))["link"]),
                           "huoltaja", PASSWORD)
        members += [("aiti", mum, booklets[:2]), ("isa", dad, booklets[:1]),
                    ("huoltaja", third, booklets[2:])]
        daycare = _client(http)
        link = (await therapist.invite(booklets[0], "caregiver", name="Päiväkoti",
                                       until="2099-12-31", scope="new"))["link"]
        await daycare.enroll(on(server, link), "paivakoti", PASSWORD)
        for guardian in (mum, dad):
            await guardian.consent(booklets[0], daycare.profile.account_id, "approve")
        await therapist.roster(booklets[0], confirm=[daycare.profile.account_id])
        members.append(("paivakoti", daycare, booklets[:1]))
        for _login, client, theirs in members[1:]:
            for booklet in theirs:
                await therapist.grant_history(booklet, client.profile.account_id, {"title"})

        for round_ in range(3):
            for login, client, theirs in members:
                for booklet in theirs:
                    await client.post(booklet, "note", text=f"{login} {round_} {booklet[:6]}")
        source = tmp / "lausunto.pdf"
        source.write_bytes(DOCUMENT)
        posted = await post_files(therapist, booklets[0], [source], text="Lausunto")
        for booklet in booklets:
            await therapist.api.call("POST", f"/api/booklets/{booklet}/appointments",
                                     {"start": "2099-01-15T09:00:00+02:00",
                                      "duration_minutes": 45})
        people, texts = [], {}
        for login, client, theirs in members:
            for booklet in theirs:
                entries = await client.read(booklet)
                assert all(e.error is None for e in entries), login
                await client.mark_read(booklet, entries[-1].seq)
            await client.sync_state()
            people.append(Person(login, client.profile, list(theirs)))
        for booklet in booklets:
            texts[booklet] = [e.payload["text"] for e in await therapist.read(booklet)
                              if e.kind == "note"]
        return people, texts, (booklets[0], posted["seq"])


def _counts(db_path: Path) -> dict[str, int]:
    conn = sqlite3.connect(db_path)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {n: conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0]  # noqa: S608
                for n in names}
    finally:
        conn.close()


@pytest.fixture(scope="module")
def site_template(tmp_path_factory: pytest.TempPathFactory) -> Site:
    import asyncio

    tmp = tmp_path_factory.mktemp("site")
    server = start_server(tmp / "site")
    try:
        people, texts, document = asyncio.run(_populate(server, tmp))
    finally:
        assert server.stop() == 0
    counts = _counts(server.db_path)
    # What the acceptance asks to move: each of these is populated in the source.
    for table in ("accounts", "booklets", "members", "entries", "entry_access", "grants",
                  "receipts", "blobs", "appointments", "notices", "audit_events",
                  "caregiver_terms", "consent_records", "booklet_rosters", "invitation_trust",
                  "join_proofs", "client_state", "sessions", "invitations"):
        assert counts[table] > 0, table
    return Site(server.workdir, people, texts, document, counts)


@pytest.fixture
def site(site_template: Site, tmp_path: Path) -> Site:
    """A copy of the populated installation of this test's own (paths rewritten)."""
    workdir = tmp_path / "site"
    shutil.copytree(site_template.workdir, workdir, ignore=shutil.ignore_patterns("*.owners"))
    write_test_config(workdir)
    return Site(workdir, site_template.people, site_template.texts, site_template.document,
                site_template.counts)


@pytest.fixture
def empty_database(pg_cluster: PgCluster) -> Iterator[Callable[[], str]]:
    """New databases with nothing in them (not even the schema); their DSNs."""
    made: list[str] = []

    def make() -> str:
        name = f"m{os.getpid()}_{len(made)}"
        made.append(name)
        return pg_cluster.create_database(name)

    yield make
    for name in made:
        pg_cluster.drop_database(name)


def _pg_config(tmp_path: Path, site: Site) -> Path:
    """The target's config: backend postgresql, its own directory for blobs, the same keys."""
    workdir = tmp_path / "pg"
    workdir.mkdir()
    shutil.copytree(site.workdir / "keys", workdir / "keys")
    config = write_test_config(workdir)
    config.write_text(config.read_text().replace(
        "[storage]\n", "[storage]\nbackend = \"postgresql\"\n"))
    return config


def _target_state(dsn: str) -> dict[str, int]:
    """Each table of the target and its row count ({} when it has no tables)."""
    with psycopg.connect(dsn) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema()")]
        return {n: conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0]  # type: ignore[index]  # noqa: S608
                for n in names}


async def test_a_populated_installation_moves_over_and_every_member_reads_everything(
    site: Site, tmp_path: Path, empty_database: Callable[[], str],
) -> None:
    dsn = empty_database()
    pg_config = _pg_config(tmp_path, site)
    done = _migrate(site.config, dsn, "--target-config", str(pg_config))
    assert done.returncode == 0, done.stderr
    assert dsn not in done.stdout + done.stderr
    assert f"{sum(v for k, v in site.counts.items() if k != 'schema_version')} rows" \
        in done.stdout
    assert "audit chain intact" in done.stdout
    assert "entry chains intact (3 booklets)" in done.stdout
    state = _target_state(dsn)
    skip = {"schema_version", "blob_chunks"}  # blobs: files in SQLite, parts in PostgreSQL
    assert {k: v for k, v in state.items() if k not in skip} == \
        {k: v for k, v in site.counts.items() if k not in skip}
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(DISTINCT blob_id) FROM blob_chunks").fetchone()
    assert row == (site.counts["blobs"],)
    assert not (tmp_path / "pg" / "var" / "blobs").exists()  # no directory on PostgreSQL

    server = ServerProcess(tmp_path / "pg", pg_config, {DATABASE_URL_ENV: dsn})
    server.start()
    try:
        async with aiohttp.ClientSession() as http:
            for person in site.people:
                # The same device as before (its pins and history checkpoints): the history it
                # saw must continue unchanged, not look rewritten.
                client = _client(http, person.profile)
                await client.login(server.base_url, person.login, PASSWORD)
                for booklet in person.booklets:
                    entries = await client.read(booklet)
                    assert [e.error for e in entries if e.error] == [], person.login
                    assert client.history_problems[booklet] == [], person.login
                    notes = [e.payload["text"] for e in entries if e.kind == "note"]
                    if person.login == "paivakoti":  # scope "new": from her joining on
                        assert notes
                        assert notes == site.texts[booklet][-len(notes):]
                    else:
                        assert notes == site.texts[booklet], person.login
                if person.login == "aiti":
                    booklet, seq = site.document
                    [attachment] = await attachments_of(client, booklet, seq)
                    saved = await save_file(client, booklet, attachment, tmp_path)
                    assert saved.path.read_bytes() == DOCUMENT
                if person.login == "terapeutti":
                    therapist = client
            # New rows after the copy: ids and sequences continue past the copied ones.
            booklet = site.people[0].booklets[0]
            posted = await therapist.post(booklet, "note", text="PostgreSQL:llä")
            assert posted["seq"] == len(await therapist.read(booklet))
            await therapist.invite(booklet, "guardian")
    finally:
        assert server.stop() == 0
    verify = _cli(pg_config, "admin", "audit", "verify", env={DATABASE_URL_ENV: dsn})
    assert verify.returncode == 0, verify.stderr
    assert f"{site.counts['audit_events']}" in done.stdout


def test_a_target_with_rows_is_refused_and_left_untouched(
    site: Site, empty_database: Callable[[], str], migrate: Migrate,
) -> None:
    dsn = empty_database()
    assert migrate(site.config, dsn) == (0, "")
    with psycopg.connect(dsn) as conn:
        head = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"
        before = conn.execute(head).fetchone()
    state = _target_state(dsn)
    code, err = migrate(site.config, dsn)
    assert code == 1
    assert "refused: the target database is not empty" in err
    assert _target_state(dsn) == state
    with psycopg.connect(dsn) as conn:
        assert conn.execute(head).fetchone() == before


def test_a_migrated_target_without_rows_is_accepted(site: Site, pg_dsn: str,
                                                     migrate: Migrate) -> None:
    """What a PostgreSQL server started on an empty database leaves: the schema, no rows."""
    assert migrate(site.config, pg_dsn) == (0, "")
    assert _target_state(pg_dsn)["entries"] == site.counts["entries"]


def test_no_dsn_is_a_clear_error(site: Site, migrate: Migrate) -> None:
    code, err = migrate(site.config, None)
    assert code == 2
    assert DATABASE_URL_ENV in err
    assert "never on the command line" in err


def test_a_source_at_an_older_schema_is_refused(
    tmp_path: Path, empty_database: Callable[[], str], migrate: Migrate,
) -> None:
    workdir = tmp_path / "old"
    (workdir / "var").mkdir(parents=True)
    config = write_test_config(workdir)
    latest = len(migrations.load_migrations())
    conn = sqlite3.connect(workdir / "var" / "secure-msg.db", isolation_level=None)
    migrations.migrate(conn, target=latest - 1)
    conn.close()
    dsn = empty_database()
    code, err = migrate(config, dsn)
    assert code == 1
    assert f"schema version {latest - 1}, this secure-msg at {latest}" in err
    assert _target_state(dsn) == {}


def test_a_failure_mid_copy_leaves_the_target_as_it_was(
    site: Site, empty_database: Callable[[], str], migrate: Migrate,
) -> None:
    """A value PostgreSQL refuses (a NUL in text, which SQLite stores) in the newest entry:
    entries are copied after accounts, booklets and invitations, so the copy has written
    tables by then; the schema it created goes too."""
    conn = sqlite3.connect(site.db_path, isolation_level=None)
    conn.execute("UPDATE entries SET json = 'x' || char(0) || 'y'"
                 " WHERE id = (SELECT MAX(id) FROM entries)")
    conn.close()
    dsn = empty_database()
    code, err = migrate(site.config, dsn)
    assert code == 1
    assert "the copy failed and was rolled back" in err
    assert dsn not in err
    assert _target_state(dsn) == {}


def test_a_running_server_is_refused(site: Site, empty_database: Callable[[], str],
                                     migrate: Migrate) -> None:
    server = ServerProcess(site.workdir, site.config, {})
    server.start()
    try:
        code, err = migrate(site.config, empty_database())
    finally:
        server.stop()
    assert code == 1
    assert "a server is running" in err


def test_a_broken_entry_chain_is_not_copied(
    site: Site, empty_database: Callable[[], str], migrate: Migrate,
) -> None:
    """An entry whose stored hash is not its envelope's (a damaged source): the check before
    COMMIT finds it, names the booklet and entry and that the source has it, and rolls back."""
    conn = sqlite3.connect(site.db_path, isolation_level=None)
    booklet, seq = conn.execute(
        "SELECT booklet_id, seq FROM entries WHERE id = (SELECT MAX(id) FROM entries)").fetchone()
    conn.execute("UPDATE entries SET entry_hash = randomblob(32) WHERE booklet_id = ? AND seq = ?",
                 (booklet, seq))
    conn.close()
    dsn = empty_database()
    code, err = migrate(site.config, dsn)
    assert code == 1
    assert f"booklet {booklet.hex()}: entry {seq}: the stored hash is not the envelope's" in err
    assert "the source already has it" in err
    assert _target_state(dsn) == {}


def test_an_empty_target_at_an_older_schema_is_brought_up_and_filled(
    site: Site, empty_database: Callable[[], str], migrate: Migrate,
) -> None:
    dsn = empty_database()
    latest = len(migrations.load_migrations())
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrations.migrate_postgresql(conn, target=latest - 1)
    assert migrate(site.config, dsn) == (0, "")
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone() == (latest,)
    assert _target_state(dsn)["audit_events"] == site.counts["audit_events"]


def test_a_target_config_with_other_keys_is_refused(
    site: Site, tmp_path: Path, empty_database: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """The copied PII columns open only with the source's keys: a target config whose keys
    differ is a configuration error, before anything is copied."""
    pg_config = _pg_config(tmp_path, site)
    (tmp_path / "pg" / "keys" / "at-rest.key").write_bytes(os.urandom(32))
    dsn = empty_database()
    monkeypatch.setenv(DATABASE_URL_ENV, dsn)
    code = main(["admin", "migrate-to-postgresql", "--config", str(site.config),
                 "--target-config", str(pg_config)])
    assert code == 2
    assert "must be a copy of" in capsys.readouterr().err
    assert _target_state(dsn) == {}


def test_a_writer_holding_the_source_is_refused(
    site: Site, empty_database: Callable[[], str], migrate: Migrate,
) -> None:
    """Another process in a write transaction on the source (an admin command, a server whose
    lock file is gone): the copy cannot take SQLite's write lock, so it refuses rather than
    copy a snapshot that write would leave behind."""
    writer = sqlite3.connect(site.db_path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        dsn = empty_database()
        code, err = migrate(site.config, dsn)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert code == 1
    assert "another process is writing to the SQLite database" in err
    assert _target_state(dsn) == {}


@pytest.mark.parametrize("damage", ["missing", "altered"])
def test_a_blob_file_that_is_not_its_row_is_refused(
    site: Site, empty_database: Callable[[], str], migrate: Migrate, damage: str,
) -> None:
    [blob] = [p for p in (site.workdir / "var" / "blobs").rglob("*") if p.is_file()]
    if damage == "missing":
        blob.unlink()
    else:
        data = blob.read_bytes()
        blob.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    dsn = empty_database()
    code, err = migrate(site.config, dsn)
    assert code == 1
    assert f"the blob file {blob}" in err
    assert _target_state(dsn) == {}


def test_the_roles_idle_timeout_does_not_cut_the_copy_short(
    site: Site, empty_database: Callable[[], str], migrate: Migrate,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """docs/operations.md suggests idle_in_transaction_session_timeout for the app's role; the
    copy's one transaction sits idle while blob files are copied (here: slowly), and must not
    be ended by it."""
    from secure_msg.services import postgresql_migration

    dsn = empty_database()
    with psycopg.connect(dsn, autocommit=True) as conn:
        name = conn.info.dbname
        conn.execute(f"ALTER DATABASE \"{name}\" SET idle_in_transaction_session_timeout = '1s'")
    copy = postgresql_migration.copy_blobs

    def slow_copy(source: Path, target: psycopg.Connection[Any], blobs: list[BlobRef]) -> int:
        time.sleep(2)
        return copy(source, target, blobs)

    monkeypatch.setattr(postgresql_migration, "copy_blobs", slow_copy)
    assert migrate(site.config, dsn) == (0, "")
