"""The `secure-msg` command: init writes config and 0600 keys once; run prints a working link."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from secure_msg.cli import main
from secure_msg.testing.twilio_server import DEV_ACCOUNT_SID, DEV_AUTH_TOKEN
from secure_msg.testing.twilio_webhooks import signature_headers

ROOT = Path(__file__).resolve().parents[1]


def test_init_writes_config_and_private_keys(project: Path) -> None:
    """init copies the example, writes two distinct 32-byte keys with mode 0600 in a 0700
    keys/, and makes the database's directory 0700."""
    assert main(["init"]) == 0
    config = project / "config" / "secure-msg.toml"
    assert config.read_text() == (project / "config" / "secure-msg.example.toml").read_text()
    keys = [project / "keys" / "at-rest.key", project / "keys" / "blind-index.key"]
    assert [len(k.read_bytes()) for k in keys] == [32, 32]
    assert keys[0].read_bytes() != keys[1].read_bytes()
    assert all(k.stat().st_mode & 0o777 == 0o600 for k in keys)
    assert (project / "keys").stat().st_mode & 0o777 == 0o700
    assert (project / "var").stat().st_mode & 0o777 == 0o700
    assert not (project / "var" / "secure-msg.db").exists()


def test_init_never_overwrites(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A second init refuses with a clear message and leaves config and keys untouched."""
    assert main(["init"]) == 0
    key = (project / "keys" / "at-rest.key").read_bytes()
    assert main(["init"]) == 1
    assert "already exists" in capsys.readouterr().err
    (project / "config" / "secure-msg.toml").unlink()
    assert main(["init"]) == 2  # config gone but keys present: refuses to replace keys
    assert "refusing to overwrite" in capsys.readouterr().err
    assert (project / "keys" / "at-rest.key").read_bytes() == key


def test_bad_config_names_the_key(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """serve with an invalid value exits 2 naming the key, before opening anything."""
    main(["init"])
    config = project / "config" / "secure-msg.toml"
    config.write_text(config.read_text().replace("port = 8080", "port = 99999"))
    assert main(["serve"]) == 2
    assert "server.port" in capsys.readouterr().err
    assert not (project / "var" / "secure-msg.db").exists()


def _serve_briefly(project: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`secure-msg serve` in a subprocess: one that starts serving is stopped by the timeout."""
    return subprocess.run([sys.executable, "-m", "secure_msg", "serve"], cwd=project,
                          env={**os.environ, "SECURE_MSG_SERVER_PORT": "0", **env},
                          capture_output=True, text=True, timeout=60, check=False)


def test_serve_refuses_a_partial_twilio_config_but_admin_commands_work(project: Path) -> None:
    """Twilio's account_sid and from_number without the token (which lives in the service's
    environment): serve exits 2 naming twilio.auth_token before opening anything, and so does a
    token that is no Auth Token; an admin command on the same config runs."""
    main(["init"])
    config = project / "config" / "secure-msg.toml"
    config.write_text(config.read_text().replace(
        'account_sid = ""', f'account_sid = "{"AC" + "0123456789abcdef" * 2}"').replace(
        'from_number = ""', 'from_number = "+358451230000"'))
    for env in ({}, {"SECURE_MSG_TWILIO_AUTH_TOKEN": "not-an-auth-token"}):
        refused = _serve_briefly(project, **env)
        assert (refused.returncode, "twilio.auth_token" in refused.stderr) == (2, True), refused
        assert "not-an-auth-token" not in refused.stderr
    assert not (project / "var" / "secure-msg.db").exists()
    assert main(["admin", "audit", "verify"]) == 0


def _webhook_status(url: str, auth_token: str) -> int:
    """An inbound-SMS webhook to `url`, signed with `auth_token` over the configured public URL
    (the example config's), with Twilio-shaped SIDs: the status it gets."""
    params = {"AccountSid": DEV_ACCOUNT_SID, "MessageSid": "SM" + "1" * 32,
              "From": "+358401112222", "To": "+358000000001", "Body": "PERU"}
    headers = signature_headers(auth_token, "http://127.0.0.1:8080/webhooks/twilio/sms", params)
    request = urllib.request.Request(f"{url}/webhooks/twilio/sms", method="POST",  # noqa: S310
                                     data=urllib.parse.urlencode(params).encode(),
                                     headers=headers)
    try:
        with urllib.request.urlopen(request) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


@pytest.mark.slow
def test_run_serves_and_prints_an_admin_link(project: Path) -> None:
    """`secure-msg run` on a fresh checkout: init, serve, print URL and /enroll/ link; audit ok;
    the local Twilio server's webhook token is its own, not the published default."""
    env = {**os.environ, "SECURE_MSG_SERVER_PORT": "0"}
    out = project / "out.txt"
    with out.open("wb") as stdout:
        process = subprocess.Popen([sys.executable, "-m", "secure_msg", "run"], cwd=project,
                                   env=env, stdout=stdout, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while "enrollment link" not in out.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        lines = out.read_text().splitlines()
        url = lines[0].split("listening on ")[1]
        link = lines[1].split("link: ")[1]
        assert link.startswith(f"{url}/enroll/")
        assert len(link.rsplit("/", 1)[1]) == 43
        with urllib.request.urlopen(f"{url}/healthz") as response:  # noqa: S310
            assert response.status == 200
        assert _webhook_status(url, DEV_AUTH_TOKEN) == 403  # no published token signs webhooks
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    assert (project / "keys" / "at-rest.key").exists()
    assert (project / "var" / "secure-msg.db").exists()
    verify = subprocess.run([sys.executable, "-m", "secure_msg", "admin", "audit", "verify"],
                            cwd=project, capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stderr
    assert "1 events" in verify.stdout
