"""`secure-msg client share / shares / revoke-share` against the real server in a subprocess:
the link is printed (no mail server set up), its secret is in the fragment only, the guardian
lists the share, and withdrawing it shows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from secure_msg.crypto import share
from secure_msg.testing.server_process import ServerProcess

from .conftest import PASSWORD, admin_invite
from .test_attachments_e2e import _cli, pdf_like

pytestmark = pytest.mark.slow


def test_cli_shares_a_document_lists_and_withdraws_it(
        secure_msg_server: ServerProcess, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECURE_MSG_SHARE_SMTP", raising=False)
    server = secure_msg_server
    t, p = tmp_path / "t", tmp_path / "p"
    for home in (t, p):
        home.mkdir()
        (home / "password").write_text(PASSWORD + "\n")
    _cli(t, "enroll", admin_invite(server, "T"), "--login", "terapeutti")
    booklet = str(_cli(t, "booklet", "create", "--title", "Aino")["id"])
    link = str(_cli(t, "booklet", "invite", booklet, "--role", "guardian")["link"])
    _cli(p, "enroll", server.base_url + link[link.index("/enroll/"):], "--login", "aiti")
    doc = tmp_path / "lausunto.pdf"
    doc.write_bytes(pdf_like(20_000, "x"))
    posted = _cli(t, "post", booklet, "--kind", "document", "--file", str(doc),
                  "--confirm-unverified")
    made = _cli(t, "share", booklet, str(posted["seq"]), "--to-phone", "0409876543",
                "--email", "laakari@example.test", "--days", "7")
    assert made["emailed"] is False  # no mail server: the link is printed instead
    assert made["link"].startswith(f"{server.base_url}/share/#{made['id']}.")
    sid, secret = share.parse_fragment(made["link"].split("#", 1)[1])
    assert sid.hex() == made["id"]
    assert (made["to"], made["max_opens"], made["state"]) == ("543", 1, "open")
    assert "code" not in made  # the code goes by SMS only
    listed = _cli(p, "shares", booklet)["items"]
    assert [(i["id"], i["state"]) for i in listed] == [(made["id"], "open")]
    withdrawn = _cli(p, "revoke-share", booklet, made["id"])  # a guardian may
    assert withdrawn["state"] == "revoked"
    assert _cli(t, "shares", booklet)["items"][0]["state"] == "revoked"
    bad = _cli(t, "share", booklet, str(posted["seq"]), "--to-phone", "0912345678", ok=False)
    assert bad["error"] == "invalid-phone-number"  # a landline gets no SMS
    # The link secret is in no server file.
    stored = b"".join(q.read_bytes() for q in server.db_files()) + server.log_path.read_bytes()
    for form in (secret, secret.hex().encode(), made["link"].split(".")[-1].encode()):
        assert form not in stored
    assert os.environ.get("SECURE_MSG_SHARE_SMTP") is None
