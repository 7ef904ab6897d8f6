"""`secure-msg client …` end to end: every command prints one JSON object with --json."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from secure_msg.testing.server_process import ServerProcess

from .conftest import admin_invite

pytestmark = pytest.mark.slow


class Cli:
    def __init__(self, home: Path, password: str) -> None:
        home.mkdir(parents=True)
        self.profile = home / "profile"
        self.password_file = home / "password"
        self.password_file.write_text(password + "\n")

    def run(self, *args: str, ok: bool = True) -> dict[str, Any]:
        out = subprocess.run(
            [sys.executable, "-m", "secure_msg", "client", "--profile", str(self.profile),
             "--password-file", str(self.password_file), "--json", *args],
            capture_output=True, text=True, timeout=120,
            env={k: v for k, v in os.environ.items() if k != "SECURE_MSG_PASSWORD"},
        )
        assert (out.returncode == 0) == ok, out.stderr
        self.stderr = out.stderr
        result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        return result


def _withhold(server: ServerProcess, account_id: str, seq: int) -> None:
    """The server turns malicious: it stops listing one entry to one member."""
    with sqlite3.connect(server.db_path) as conn:
        conn.execute("DELETE FROM entry_access WHERE account_id = ? AND seq = ?",
                     (bytes.fromhex(account_id), seq))


def test_cli_family_flow(secure_msg_server: ServerProcess, tmp_path: Path) -> None:
    """Enroll, open a booklet, invite, share the title, post, read, compare safety numbers;
    the private keys never reach the profile folder in the clear."""
    server = secure_msg_server
    therapist = Cli(tmp_path / "t", "terapeutin salasana")
    parent = Cli(tmp_path / "p", "vanhemman salasana")
    enrolled = therapist.run("enroll", admin_invite(server, "T"), "--login", "terapeutti")
    assert len(enrolled["recovery_key"]) == 44
    booklet = therapist.run("booklet", "create", "--title", "Aino")["id"]
    link = therapist.run("booklet", "invite", booklet, "--role", "guardian", "--name", "Äiti",
                         "--via", "plain")  # the legacy path: no trust or history in the link
    link_url = server.base_url + link["link"][link["link"].index("/enroll/"):]
    parent_id = parent.run("enroll", link_url, "--login", "aiti")["id"]
    homework = ("post", booklet, "--kind", "homework", "--text", "Pyöräily")
    refused = therapist.run(*homework, ok=False)
    assert refused["error"] == "unverified-recipients"
    assert f"Äiti (guardian, {parent_id}), not verified in person" in refused["detail"]
    posted = therapist.run(*homework, "--confirm-unverified")
    assert posted["seq"] == 2
    assert [n["id"] for n in posted["new_recipients"]] == [parent_id]
    # confirming signed her into the roster (protocol §6.6): sharing asks nothing more
    granted = therapist.run("booklet", "grant-history", booklet, parent_id)
    assert granted["entries"] == 2  # every entry the therapist reads: the title, the homework
    parent.run("post", booklet, "--kind", "homework-log", "--homework", posted["id"],
               "--text", "Meni hyvin", "--date", "2026-11-27", "--confirm-unverified")
    read = parent.run("read", booklet)
    entries = read["entries"]
    assert [e["kind"] for e in entries] == ["title", "homework", "homework-log"]
    assert read["history_problems"] == []
    assert entries[0]["payload"]["title"] == "Aino"
    assert entries[2]["payload"]["homework"] == posted["id"]
    members = therapist.run("booklet", "members", booklet)["members"]
    assert {m["role"] for m in members} == {"therapist", "guardian"}
    therapist_id = enrolled["id"]
    ours = therapist.run("safety-number", parent_id)["safety_number"]
    theirs = parent.run("safety-number", therapist_id)["safety_number"]
    assert ours == theirs
    assert len(ours) == 60
    wrong = ours[:-1] + ("0" if ours[-1] != "0" else "1")
    assert parent.run("verify", therapist_id, wrong, ok=False)["error"] == \
        "safety-number-mismatch"
    assert parent.run("verify", therapist_id, ours)["verified"] is True
    profile_text = (parent.profile / "profile.json").read_text()
    assert "Meni hyvin" not in profile_text
    assert json.loads(profile_text)["pins"][therapist_id]["verified"] is True
    token = json.loads(profile_text)["token"]
    _withhold(server, parent_id, seq=2)
    read = parent.run("read", booklet)
    assert [e["seq"] for e in read["entries"]] == [1, 3]
    assert read["history_problems"] == [{"code": "entries-missing", "from": 2, "to": 2}]
    assert "WARNING: the server's history of this booklet does not add up: entry 2 was sealed" \
        " to you" in parent.stderr
    seen_before = json.loads((parent.profile / "profile.json").read_text())["checkpoints"]
    accepted = parent.run("booklet", "accept-history", booklet)
    assert accepted["history_problems"] == [{"code": "entries-missing", "from": 2, "to": 2}]
    assert accepted["accepted"] is False  # a withheld entry is not excused by accepting
    seen_after = json.loads((parent.profile / "profile.json").read_text())["checkpoints"]
    assert seen_after.get(booklet) == seen_before.get(booklet)
    parent.run("logout")
    assert parent.run("read", booklet, ok=False)["error"] == "not-logged-in"
    request = urllib.request.Request(  # noqa: S310 - our own loopback server
        server.url("/api/me"), headers={"Authorization": f"Bearer {token}"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=30)  # noqa: S310 - our own loopback server
    assert err.value.code == 401


def test_cli_invitation_that_carries_trust(secure_msg_server: ServerProcess,
                                           tmp_path: Path) -> None:
    """`booklet invite --via qr` prints a link with the trust fragment; enrolling with it says
    the therapist is verified in person, brings the title and the earlier note at once, and the
    parent's first post needs no --confirm-unverified (protocol §6.6, §6.7)."""
    server = secure_msg_server
    therapist = Cli(tmp_path / "t", "terapeutin salasana")
    parent = Cli(tmp_path / "p", "vanhemman salasana")
    therapist.run("enroll", admin_invite(server, "T"), "--login", "terapeutti")
    booklet = therapist.run("booklet", "create", "--title", "Aino")["id"]
    therapist.run("post", booklet, "--text", "Ensimmäinen tapaaminen")
    link = therapist.run("booklet", "invite", booklet, "--role", "guardian", "--name", "Äiti",
                         "--via", "qr")["link"]
    assert "#i=" in link
    assert link.endswith("&via=qr")
    enrolled = parent.run("enroll", server.base_url + link[link.index("/enroll/"):],
                          "--login", "aiti")
    assert enrolled["joined"]["therapist_verified"] is True
    assert enrolled["joined"]["entries"] == 2
    read = parent.run("read", booklet)
    assert [e["kind"] for e in read["entries"]] == ["title", "note"]
    posted = parent.run("post", booklet, "--text", "Kiitos")
    assert posted["new_recipients"] == []
