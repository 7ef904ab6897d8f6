"""`secure-msg admin migrate-to-postgresql` on an installation of a practice's size.

    .venv/bin/python bench/migrate.py [--booklets 200] [--entries 50] [--keep]

Data, made by the real server on SQLite through the Python client (real sealed and signed
envelopes, so the copy's entry-chain check does its real work): one therapist and one guardian
in every booklet, `--entries` notes of ≈ 300 characters per booklet posted by both in turn, an
appointment per booklet, a 200 KB document in every tenth, plus what all that writes (entry
access, roster entries, audit events, sessions, invitations). Then the server is stopped and
the command copies it into an empty database of a throwaway cluster with fsync on
(PgCluster.start(durable=True)), as a subprocess, as the service manager runs it.

Prints the command's own summary (tables, rows, seconds, rows/s: the copy and its checks
before COMMIT), the wall time of the whole command (start-up and the check after COMMIT
included) and the rows of the largest tables.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from secure_msg.client import Client, Profile
from secure_msg.client.attachments import post_files
from secure_msg.storage.db import DATABASE_URL_ENV
from secure_msg.testing.pg_cluster import PgCluster
from secure_msg.testing.server_process import ServerProcess, start_server

PASSWORD = "bench bench bench bench"  # noqa: S105 - throwaway accounts
TEXT = ("Harjoiteltiin saksilla leikkaamista ja kynäotetta; kotona voi jatkaa samaa kymmenen "
        "minuuttia päivässä. ") * 3


def _cli(server: ServerProcess, *args: str, env: dict[str, str] | None = None,
         ) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SECURE_MSG_")}
    return subprocess.run(
        [sys.executable, "-m", "secure_msg", *args, "--config", str(server.config_path)],
        capture_output=True, text=True, check=True, env={**clean, **(env or {})})


def _on(server: ServerProcess, link: str) -> str:
    return server.base_url + link[link.index("/enroll/"):]


async def populate(server: ServerProcess, booklets: int, entries: int, work: Path) -> None:
    async with aiohttp.ClientSession() as http:
        invite = json.loads(_cli(server, "admin", "invite", "--role", "therapist", "--name",
                                 "T", "--json").stdout)
        therapist = Client(Profile(), http)
        await therapist.enroll(_on(server, invite["link"]), "terapeutti", PASSWORD)
        guardian = Client(Profile(), http)
        ids = [await therapist.create_booklet(f"Lapsi {n}") for n in range(booklets)]
        first = (await therapist.invite(ids[0], "guardian"))["link"]
        await guardian.enroll(_on(server, first), "huoltaja", PASSWORD)
        for booklet in ids[1:]:
            await guardian.accept((await therapist.invite(booklet, "guardian"))["link"])
        document = work / "lausunto.pdf"
        document.write_bytes(os.urandom(200_000))
        gate = asyncio.Semaphore(8)

        async def fill(n: int, booklet: str) -> None:
            async with gate:
                for i in range(entries):
                    author = therapist if i % 2 == 0 else guardian
                    await author.post(booklet, "note", text=f"{i}: {TEXT}")
                await therapist.api.call("POST", f"/api/booklets/{booklet}/appointments",
                                         {"start": "2099-01-15T09:00:00+02:00",
                                          "duration_minutes": 45})
                if n % 10 == 0:
                    await post_files(therapist, booklet, [document], text="Lausunto")

        started = time.monotonic()
        await asyncio.gather(*(fill(n, b) for n, b in enumerate(ids)))
        print(f"populated {booklets} booklets × {entries} entries in "
              f"{time.monotonic() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--booklets", type=int, default=200)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--site", type=Path, help="a work directory kept by an earlier run: "
                        "migrate its installation again instead of making a new one")
    args = parser.parse_args()
    work = args.site or Path(tempfile.mkdtemp(prefix="secure-msg-bench-migrate-"))
    cluster = PgCluster.start(durable=True)
    try:
        if args.site:
            server = ServerProcess(work / "site", work / "site" / "secure-msg.toml", {})
        else:
            server = start_server(work / "site")
            try:
                asyncio.run(populate(server, args.booklets, args.entries, work))
            finally:
                server.stop()
        size = sum(p.stat().st_size for p in server.db_files())
        dsn = cluster.create_database("target")
        started = time.monotonic()
        done = _cli(server, "admin", "migrate-to-postgresql", env={DATABASE_URL_ENV: dsn})
        wall = time.monotonic() - started
        print(f"SQLite database {size / 1e6:.1f} MB")
        print(done.stdout, end="")
        print(f"the whole command: {wall:.1f} s wall")
    finally:
        cluster.stop()
        if args.keep or args.site:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
