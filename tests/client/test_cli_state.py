"""`secure-msg client …` keeps pins, checkpoints and the sealed-to record in the account's sealed
client state (docs/protocol.md §6.5): two profile folders are one therapist's two devices, the
real server runs as a subprocess, and its SQLite file is edited as a malicious operator could."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from secure_msg.client.profile import locked
from secure_msg.crypto import keys
from secure_msg.testing.server_process import ServerProcess

from .conftest import admin_invite
from .test_cli import Cli

pytestmark = pytest.mark.slow
THERAPIST_PASSWORD = "terapeutin salasana"


def _profile(cli: Cli) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((cli.profile / "profile.json").read_text())
    return data


def _sql(server: ServerProcess, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(server.db_path) as conn:
        return conn.execute(sql, params).fetchall()


def _state(server: ServerProcess, account_id: bytes) -> tuple[int, bytes]:
    [(version, blob)] = _sql(server, "SELECT version, blob FROM client_state"
                                     " WHERE account_id = ?", account_id)
    return int(version), bytes(blob)


def _set_state(server: ServerProcess, account_id: bytes, version: int, blob: bytes) -> None:
    _sql(server, "UPDATE client_state SET version = ?, blob = ? WHERE account_id = ?",
         version, blob, account_id)


def _booklet_with(server: ServerProcess, tmp_path: Path, *names: str
                  ) -> tuple[Cli, str, list[str]]:
    """A therapist's first device, a booklet, and a guardian enrolled for each name."""
    therapist = Cli(tmp_path / "device1", THERAPIST_PASSWORD)
    therapist.run("enroll", admin_invite(server, "T"), "--login", "terapeutti")
    booklet = therapist.run("booklet", "create", "--title", "Aino")["id"]
    ids = []
    for name in names:
        link = therapist.run("booklet", "invite", booklet, "--role", "guardian",
                             "--name", name, "--via", "plain")["link"]
        parent = Cli(tmp_path / name, f"{name} salasana")
        ids.append(parent.run("enroll", server.base_url + link[link.index("/enroll/"):],
                              "--login", name)["id"])
    return therapist, booklet, ids


def _second_device(server: ServerProcess, tmp_path: Path) -> tuple[Cli, dict[str, Any]]:
    device = Cli(tmp_path / "device2", THERAPIST_PASSWORD)
    return device, device.run("login", "--server", server.base_url, "--login", "terapeutti")


def _verify(cli: Cli, member: str) -> dict[str, Any]:
    return cli.run("verify", member, cli.run("safety-number", member)["safety_number"])


def test_a_second_device_has_what_the_first_pinned_verified_sealed_to_and_checked(
        secure_msg_server: ServerProcess, tmp_path: Path) -> None:
    """Device 1 seals to one mother unverified (confirmed) and verifies another, then reads;
    device 2, right after logging in, has both pins, the record and the checkpoint, and posts
    without --confirm-unverified."""
    server = secure_msg_server
    device1, booklet, (aiti, aiti2) = _booklet_with(server, tmp_path, "aiti", "aiti2")
    posted = device1.run("post", booklet, "--text", "eka", "--confirm-unverified")
    assert sorted(n["id"] for n in posted["new_recipients"]) == sorted([aiti, aiti2])
    assert _verify(device1, aiti2)["state_problems"] == []
    device1.run("read", booklet)
    device2, login = _second_device(server, tmp_path)
    assert login["state_problems"] == []
    first, second = _profile(device1), _profile(device2)
    assert second["pins"][aiti2]["verified"] is True
    assert second["pins"][aiti]["verified"] is False
    assert second["pins"][aiti]["name"] == "aiti"
    assert aiti in second["sealed_to"][booklet]
    assert second["checkpoints"][booklet] == first["checkpoints"][booklet]
    assert device2.run("post", booklet, "--text", "toka")["new_recipients"] == []


def test_a_rolled_back_or_broken_state_is_a_warning_and_is_written_over(
        secure_msg_server: ServerProcess, tmp_path: Path) -> None:
    """The server serves an older blob: state-rolled-back in --json and on stderr, the
    verification kept and stored above; then a blob that does not open: reported, overwritten."""
    server = secure_msg_server
    device1, _, (aiti,) = _booklet_with(server, tmp_path, "aiti")
    me = bytes.fromhex(_profile(device1)["account_id"])
    old_version, old_blob = _state(server, me)
    _verify(device1, aiti)
    known = _profile(device1)["state_version"]
    assert known > old_version
    _set_state(server, me, old_version, old_blob)
    result = device1.run("booklet", "list")
    assert result["state_problems"] == [{"code": "state-rolled-back",
                                         "stored_version": old_version, "known_version": known}]
    assert "WARNING: the server served an older copy of your saved pins" in device1.stderr
    assert _profile(device1)["pins"][aiti]["verified"] is True
    version, blob = _state(server, me)
    assert version == known + 1
    _set_state(server, me, version, blob[:-1] + bytes([blob[-1] ^ 1]))
    result = device1.run("booklet", "list")
    assert result["state_problems"] == [{"code": "state-decrypt-failed"}]
    assert "do not open (state-decrypt-failed)" in device1.stderr
    assert _state(server, me)[0] == known + 2
    assert device1.run("booklet", "list")["state_problems"] == []


def test_devices_that_pinned_different_keys_refuse_until_verified(
        secure_msg_server: ServerProcess, tmp_path: Path) -> None:
    """Device 2 was shown a key of the server's own for the mother, device 1 her true key:
    device 2's next command warns pin-conflict and refuses her booklet as for a changed key,
    until her safety number is compared and verified; then it posts again."""
    server = secure_msg_server
    device1, booklet, (aiti,) = _booklet_with(server, tmp_path, "aiti")
    device2, _ = _second_device(server, tmp_path)  # before device 1 has pinned her
    [(true_statement,)] = _sql(server, "SELECT key_statement FROM accounts WHERE id = ?",
                               bytes.fromhex(aiti))
    fake = keys.AccountKeys.generate(bytes.fromhex(aiti)).statement(int(time.time() * 1000))
    _sql(server, "UPDATE accounts SET key_statement = ? WHERE id = ?", fake.encode(),
         bytes.fromhex(aiti))
    device2.run("booklet", "members", booklet)  # trusts the server's key on first use
    _sql(server, "UPDATE accounts SET key_statement = ? WHERE id = ?", true_statement,
         bytes.fromhex(aiti))
    device1.run("post", booklet, "--text", "eka", "--confirm-unverified")  # pins the true key
    refused = device2.run("post", booklet, "--text", "toka", "--confirm-unverified", ok=False)
    assert refused["error"] == "protocol/identity-key-changed"
    assert refused["state_problems"] == [{"code": "pin-conflict", "account": aiti}]
    assert f"your devices pinned different identity keys for {aiti}" in device2.stderr
    assert _profile(device2)["pins"][aiti]["key_conflict"] is True
    assert device2.run("read", booklet, ok=False)["error"] == "protocol/identity-key-changed"
    assert _verify(device2, aiti)["verified"] is True
    assert _profile(device2)["pins"][aiti]["key_conflict"] is False
    device2.run("post", booklet, "--text", "toka")
    assert device1.run("post", booklet, "--text", "kolmas")["new_recipients"] == []


def _start(cli: Cli, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "secure_msg", "client", "--profile", str(cli.profile),
         "--password-file", str(cli.password_file), "--json", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_until_blocked(runs: list[subprocess.Popen[str]]) -> None:
    """Until the kernel lists every run as waiting for a file lock (/proc/locks "->")."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert all(run.poll() is None for run in runs), "a run did not wait for the folder"
        waiting = {int(line.split()[5]) for line in Path("/proc/locks").read_text().splitlines()
                   if line.split()[1:3] == ["->", "FLOCK"]}
        if {run.pid for run in runs} <= waiting:
            return
        time.sleep(0.1)
    raise AssertionError("the runs never waited for the profile folder's lock")


def test_runs_on_one_profile_folder_take_turns_and_keep_both_changes(
        secure_msg_server: ServerProcess, tmp_path: Path) -> None:
    """Two verifications started at once on one profile folder wait while another run holds
    it, then run one after the other: both members end up verified."""
    server = secure_msg_server
    device1, _, (aiti, isa) = _booklet_with(server, tmp_path, "aiti", "isa")
    numbers = {m: device1.run("safety-number", m)["safety_number"] for m in (aiti, isa)}
    with locked(device1.profile):
        runs = [_start(device1, "verify", m, numbers[m]) for m in (aiti, isa)]
        _wait_until_blocked(runs)
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        assert json.loads(out.splitlines()[-1])["verified"] is True
    pins = _profile(device1)["pins"]
    assert pins[aiti]["verified"] is True
    assert pins[isa]["verified"] is True
