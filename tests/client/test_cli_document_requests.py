"""`secure-msg client request-document|document-requests|withdraw-request` and `post --kind
document --fulfils` end to end against the real server (a subprocess)."""

from __future__ import annotations

from pathlib import Path

import pytest

from secure_msg.testing.server_process import ServerProcess

from .conftest import admin_invite
from .test_cli import Cli

pytestmark = pytest.mark.slow


def test_a_guardian_asks_and_the_therapists_statement_answers(
    secure_msg_server: ServerProcess, tmp_path: Path,
) -> None:
    server = secure_msg_server
    therapist = Cli(tmp_path / "t", "terapeutin salasana")
    parent = Cli(tmp_path / "p", "vanhemman salasana")
    therapist.run("enroll", admin_invite(server, "T"), "--login", "terapeutti")
    booklet = therapist.run("booklet", "create", "--title", "Aino")["id"]
    link = therapist.run("booklet", "invite", booklet, "--role", "guardian", "--name", "Äiti")
    parent.run("enroll", server.base_url + link["link"][link["link"].index("/enroll/"):],
               "--login", "aiti")

    bad = parent.run("request-document", booklet, "--due", "15.2.2030", ok=False)
    assert bad["error"] == "bad-arguments"
    assert therapist.run("request-document", booklet, ok=False)["error"] == "forbidden"
    asked = parent.run("request-document", booklet, "--kind", "statement", "--due", "2030-02-15")
    assert (asked["kind"], asked["status"], asked["due"]) == ("statement", "open", "2030-02-15")
    spare = parent.run("request-document", booklet, "--kind", "plan")

    desk = therapist.run("document-requests")
    assert [r["id"] for r in desk["requests"]] == [asked["id"], spare["id"]]
    assert {r["booklet_id"] for r in desk["requests"]} == {booklet}
    assert parent.run("document-requests", ok=False)["error"] == "forbidden"  # no caseload

    pdf = tmp_path / "lausunto.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    note = therapist.run("post", booklet, "--text", "x", "--fulfils", asked["id"],
                         "--confirm-unverified", ok=False)
    assert note["error"] == "bad-arguments"
    posted = therapist.run("post", booklet, "--kind", "document", "--file", str(pdf),
                           "--fulfils", asked["id"], "--confirm-unverified")
    again = therapist.run("post", booklet, "--kind", "document", "--file", str(pdf),
                          "--fulfils", asked["id"], "--confirm-unverified", ok=False)
    assert again["error"] == "document-request-not-open"
    withdrawn = therapist.run("withdraw-request", booklet, spare["id"])
    assert withdrawn["status"] == "withdrawn"

    assert therapist.run("document-requests")["requests"] == []
    every = parent.run("document-requests", booklet, "--all")["requests"]
    assert [(r["kind"], r["status"], r["done_by_seq"]) for r in every] == [
        ("statement", "done", posted["seq"]), ("plan", "withdrawn", None)]
