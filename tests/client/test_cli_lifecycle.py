"""`secure-msg client close|lifecycle|delete-account` and `secure-msg admin retention` end to
end against the real server (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from secure_msg.testing.server_process import ServerProcess

from .conftest import admin_invite
from .test_cli import Cli

pytestmark = pytest.mark.slow


def _admin_retention(server: ServerProcess) -> list[dict[str, str | None]]:
    out = subprocess.run(
        [sys.executable, "-m", "secure_msg", "admin", "retention", "--config",
         str(server.config_path), "--json"],
        check=True, capture_output=True, text=True, timeout=60)
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_close_retention_and_delete_account(secure_msg_server: ServerProcess,
                                            tmp_path: Path) -> None:
    server = secure_msg_server
    therapist = Cli(tmp_path / "t", "terapeutin salasana")
    parent = Cli(tmp_path / "p", "vanhemman salasana")
    therapist.run("enroll", admin_invite(server, "T"), "--login", "terapeutti")
    booklet = therapist.run("booklet", "create", "--title", "Aino")["id"]
    link = therapist.run("booklet", "invite", booklet, "--role", "guardian", "--name", "Äiti")
    parent_id = parent.run("enroll", server.base_url + link["link"][link["link"].index(
        "/enroll/"):], "--login", "aiti")["id"]
    assert _admin_retention(server) == []

    assert therapist.run("close", booklet, ok=False)["error"] == "confirm-needed"
    assert parent.run("close", booklet, "--yes", ok=False)["error"] == "forbidden"
    assert therapist.run("lifecycle", booklet)["status"] == "open"
    closed = therapist.run("close", booklet, "--yes")
    assert closed["status"] == "closed"
    assert parent.run("lifecycle", booklet)["purge_after"] == closed["purge_after"]
    refused = therapist.run("post", booklet, "--kind", "note", "--text", "Vielä yksi",
                            "--confirm-unverified", ok=False)
    assert refused["error"] == "booklet-closed"
    [row] = _admin_retention(server)
    assert row["booklet_id"] == booklet
    assert row["status"] == "closed"
    assert row["purge_after"] == closed["purge_after"]
    assert row["reminder_due"] is not None
    assert row["reminder_due"] < closed["purge_after"]

    assert parent.run("delete-account", ok=False)["error"] == "confirm-needed"
    assert parent.run("delete-account", "--yes", ok=False)["error"] == "still-a-member"
    parent.run("booklet", "remove", booklet, parent_id)  # leaving a closed booklet is allowed
    assert parent.run("delete-account", "--yes")["id"] == parent_id
    again = Cli(tmp_path / "p2", "vanhemman salasana")
    refused = again.run("login", "--server", server.base_url, "--login", "aiti", ok=False)
    assert refused["error"] == "invalid-credentials"
