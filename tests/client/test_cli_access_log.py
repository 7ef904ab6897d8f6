"""`secure-msg client access-log` on the real server (a subprocess): a guardian sees the
caregiver's reads by name, not an outsider's refused attempt, which the operator's audit keeps;
the CSV export is written and recorded; `admin audit verify` still passes."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from secure_msg.testing.server_process import ServerProcess

from .conftest import admin_invite
from .test_cli import Cli

pytestmark = pytest.mark.slow


def _refused_in_operator_audit(server: ServerProcess, account_id: str, booklet: str) -> int:
    """The operator reads the audit table (reads are committed in batches: wait a little)."""
    for _ in range(50):
        with sqlite3.connect(server.db_path) as conn:
            (count,) = conn.execute(
                "SELECT COUNT(*) FROM audit_events WHERE action = 'entries.fetch_refused' "
                "AND actor = ? AND target = ?", (f"account:{account_id}", f"booklet:{booklet}"),
            ).fetchone()
        if count:
            return int(count)
        time.sleep(0.1)
    return 0


def test_a_guardian_reads_the_access_log(secure_msg_server: ServerProcess,
                                         tmp_path: Path) -> None:
    server = secure_msg_server
    therapist, mum, carer, outsider = (Cli(tmp_path / n, f"salasana {n} 123")
                                       for n in ("t", "m", "c", "o"))
    therapist.run("enroll", admin_invite(server, "T"), "--login", "terapeutti")
    booklet = therapist.run("booklet", "create", "--title", "Aino")["id"]

    def join(cli: Cli, role: str, name: str) -> str:
        terms = ("--until", "2099-12-31", "--scope", "new") if role == "caregiver" else ()
        link = therapist.run("booklet", "invite", booklet, "--role", role, "--name", name,
                             *terms)
        url = server.base_url + link["link"][link["link"].index("/enroll/"):]
        return str(cli.run("enroll", url, "--login", name.lower())["id"])

    mum_id = join(mum, "guardian", "Aiti")
    carer_id = join(carer, "caregiver", "Paivakoti")
    mum.run("consent", "approve", booklet, carer_id)  # the only guardian: a member now
    therapist.run("post", booklet, "--kind", "note", "--text", "Hei", "--confirm-unverified")
    assert [e["seq"] for e in carer.run("read", booklet)["entries"]] == [2]
    outsider_id = outsider.run("enroll", admin_invite(server, "O"), "--login", "muu")["id"]
    assert outsider.run("read", booklet, ok=False)["error"] == "not-found"  # at the members list
    token = json.loads((outsider.profile / "profile.json").read_text())["token"]
    request = urllib.request.Request(  # noqa: S310 - our own loopback server
        server.url(f"/api/booklets/{booklet}/entries"),
        headers={"Authorization": f"Bearer {token}"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=30)  # noqa: S310 - our own loopback server
    assert err.value.code == 404
    assert _refused_in_operator_audit(server, outsider_id, booklet) == 1

    csv_path = tmp_path / "loki.csv"
    log = mum.run("access-log", booklet, "--csv", str(csv_path))
    items = log["items"]
    reads = [i for i in items if i["action"] == "entries.fetched" and i["actor"] == carer_id]
    assert [(i["who"], i["what"], i["detail"]["ranges"]) for i in reads] == [
        ("Paivakoti", "read 1 entries (2)", "2")]
    assert outsider_id not in json.dumps(items)
    assert all(i["hash_ok"] for i in items)
    joined = {i["who"]: i["what"] for i in items if i["action"] == "member.joined"}
    assert joined["Aiti"] == "joined as guardian, invited by T"
    assert joined["Paivakoti"] == "joined as caregiver, invited by T"
    approved = [i for i in items if i["action"] == "consent.approved"]
    assert [(i["who"], i["what"]) for i in approved] == [("Aiti", "approved: Paivakoti")]
    assert stat.S_IMODE(csv_path.stat().st_mode) == 0o600
    table = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
    assert ("Paivakoti", "entries.fetched") in {(r["who"], r["action"]) for r in table}
    assert {r["hash_ok"] for r in table} == {"yes"}
    # The CSV export is itself in the log now, by the guardian.
    again = mum.run("access-log", booklet)["items"]
    assert [(i["actor"], i["detail"]) for i in again if i["action"] == "booklet.exported"] == [
        (mum_id, {"kind": "access-log"})]
    # The outsider has no log of this booklet to read.
    assert outsider.run("access-log", booklet, ok=False)["error"] == "not-found"

    verify = subprocess.run(
        [sys.executable, "-m", "secure_msg", "admin", "audit", "verify", "--config",
         str(server.config_path)], capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "audit chain intact" in verify.stdout
