"""`secure-msg client consent …` and `booklet invite --until --scope` against a real server."""

from __future__ import annotations

from pathlib import Path

import pytest

from secure_msg.testing.server_process import ServerProcess

from .conftest import admin_invite
from .test_cli import Cli

pytestmark = pytest.mark.slow


def test_a_guardian_approves_and_withdraws_a_caregiver_from_the_cli(
    secure_msg_server: ServerProcess, tmp_path: Path,
) -> None:
    server = secure_msg_server
    therapist = Cli(tmp_path / "t", "terapeutin salasana")
    parent = Cli(tmp_path / "p", "vanhemman salasana")
    daycare = Cli(tmp_path / "d", "päiväkodin salasana")
    therapist.run("enroll", admin_invite(server, "T"), "--login", "terapeutti")
    booklet = therapist.run("booklet", "create", "--title", "Aino")["id"]

    def enroll(who: Cli, login: str, *invite: str) -> str:
        link = therapist.run("booklet", "invite", booklet, *invite)["link"]
        return str(who.run("enroll", server.base_url + link[link.index("/enroll/"):],
                           "--login", login)["id"])

    enroll(parent, "aiti", "--role", "guardian", "--name", "Äiti")
    refused = therapist.run("booklet", "invite", booklet, "--role", "caregiver", ok=False)
    assert refused["error"] == "validation-failed"
    care_id = enroll(daycare, "paivakoti", "--role", "caregiver", "--name", "Päiväkoti",
                     "--until", "2099-06-30", "--scope", "new")
    assert daycare.run("read", booklet, ok=False)["error"] == "consent-pending"

    listed = parent.run("consent", "list", booklet)["caregivers"]
    assert [(c["account_id"], c["status"], c["scope"]) for c in listed] == [
        (care_id, "pending_consent", "new")]
    approved = parent.run("consent", "approve", booklet, care_id)
    assert approved["status"] == "active"
    assert approved["until"].startswith("2099-06-30T2")  # midnight in Helsinki, in UTC
    therapist.run("post", booklet, "--text", "Päiväkodissa harjoitellaan",
                  "--confirm-unverified")
    assert [e["payload"].get("text") for e in daycare.run("read", booklet)["entries"]] == [
        "Päiväkodissa harjoitellaan"]

    withdrawn = parent.run("consent", "withdraw", booklet, care_id)
    assert withdrawn["status"] == "withdrawn"
    assert daycare.run("read", booklet, ok=False)["error"] == "not-found"
    members = therapist.run("booklet", "members", booklet)["members"]
    assert care_id not in {m["id"] for m in members}
