"""`secure-msg client`'s own options (--profile, --json, --password-file) work before the
subcommand and after it, as a new user types them, through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from secure_msg.client import Profile
from secure_msg.testing.server_process import ServerProcess

from .conftest import PASSWORD, admin_invite

pytestmark = pytest.mark.slow

OPTIONS = ("--profile", "--json", "--password-file")


def _cli(home: Path, before: list[str], command: list[str], after: list[str]
         ) -> subprocess.CompletedProcess[str]:
    # HOME is an empty folder and no SECURE_MSG_ variable is set: an option that is dropped
    # falls back to an empty default profile and no password, and the command fails.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECURE_MSG_")}
    return subprocess.run(
        [sys.executable, "-m", "secure_msg", "client", *before, *command, *after],
        capture_output=True, text=True, timeout=120, env={**env, "HOME": str(home)},
    )


def _split(values: dict[str, list[str]], after: set[str]) -> tuple[list[str], list[str]]:
    """The options' arguments, those named in `after` placed after the command."""
    first = [a for name in OPTIONS if name not in after for a in values[name]]
    last = [a for name in OPTIONS if name in after for a in values[name]]
    return first, last


@pytest.fixture
def option_values(tmp_path: Path) -> dict[str, list[str]]:
    (tmp_path / "home").mkdir()
    (tmp_path / "password").write_text(PASSWORD + "\n")
    return {"--profile": ["--profile", str(tmp_path / "profile")], "--json": ["--json"],
            "--password-file": ["--password-file", str(tmp_path / "password")]}


def test_each_option_after_the_command(secure_msg_server: ServerProcess, tmp_path: Path,
                                       option_values: dict[str, list[str]]) -> None:
    """Enroll with every option after the command, then list booklets with each option in
    turn after it (and the others before, which must keep their values): each run finds the
    profile, reads the password file and prints JSON."""
    home = tmp_path / "home"
    link = admin_invite(secure_msg_server, "T")
    first, last = _split(option_values, set(OPTIONS))
    out = _cli(home, first, ["enroll", link, "--login", "terapeutti"], last)
    assert out.returncode == 0, out.stderr
    account = json.loads(out.stdout)["id"]
    for placement in [set(), *({name} for name in OPTIONS), set(OPTIONS)]:
        first, last = _split(option_values, placement)
        out = _cli(home, first, ["booklet", "list"], last)
        assert out.returncode == 0, (placement, out.stderr)
        assert json.loads(out.stdout)["booklets"] == [], placement
        assert Profile.load(tmp_path / "profile").account_id == account
    assert not any(home.iterdir())  # nothing went to the default profile


def test_an_option_the_command_does_not_know_is_still_refused(tmp_path: Path) -> None:
    """Accepting the client's options after the command opens nothing else."""
    out = _cli(tmp_path, [], ["booklet", "list", "--no-such-option"], [])
    assert out.returncode == 2
    assert "unrecognized arguments: --no-such-option" in out.stderr
