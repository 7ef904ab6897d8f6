"""The profile folder: old files still load, the §6.5 fields survive a save, and the lock."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from secure_msg.client.profile import Profile, locked
from secure_msg.crypto.client_state import StateCheckpoint, StatePin

ACCOUNT, BOOKLET = "a" * 32, "b" * 32


def test_a_profile_written_before_the_client_state_still_loads(tmp_path: Path) -> None:
    """A profile.json without key_conflict or state_version loads with both at their
    defaults (no conflict, no version seen)."""
    (tmp_path / "profile.json").write_text(json.dumps({
        "server": "http://x", "login": "t", "account_id": ACCOUNT, "token": "", "bundle": "",
        "kdf_salt": "", "kdf_iterations": 0,
        "pins": {ACCOUNT: {"identity_key": "c" * 64, "verified": True, "name": "T",
                           "name_pinned": True, "roles": {BOOKLET: "therapist"}}},
        "checkpoints": {BOOKLET: {"seq": 3, "entry_hash": "d" * 64, "joined_seq": 0}},
        "sealed_to": {BOOKLET: [ACCOUNT]}}))
    profile = Profile.load(tmp_path)
    assert profile.pins[ACCOUNT].key_conflict is False
    assert profile.state_version == 0
    assert profile.checkpoints[BOOKLET] == StateCheckpoint(3, "d" * 64, 0)


def test_the_client_state_fields_survive_save_and_load(tmp_path: Path) -> None:
    """A pin's key_conflict and the highest state version are kept between runs, and the
    state taken from the profile gives the same profile back."""
    profile = Profile(account_id=ACCOUNT, state_version=7)
    profile.pins[ACCOUNT] = StatePin("c" * 64, name=None, name_pinned=True,
                                     roles={BOOKLET: "guardian"}, key_conflict=True)
    profile.checkpoints[BOOKLET] = StateCheckpoint(4, "d" * 64, 2)
    profile.sealed_to[BOOKLET] = [ACCOUNT]
    profile.save(tmp_path)
    loaded = Profile.load(tmp_path)
    assert loaded == profile
    copy = Profile()
    copy.adopt(loaded.client_state())
    assert (copy.pins, copy.checkpoints, copy.sealed_to) == \
        (profile.pins, profile.checkpoints, profile.sealed_to)


def test_the_lock_lets_one_holder_in_at_a_time(tmp_path: Path) -> None:
    """A second holder of the profile folder's lock waits until the first lets go."""
    order: list[str] = []
    holding = threading.Event()

    def second() -> None:
        holding.wait()
        with locked(tmp_path):
            order.append("second in")

    thread = threading.Thread(target=second)
    thread.start()
    with locked(tmp_path):
        holding.set()
        time.sleep(0.5)
        order.append("first out")
    thread.join(timeout=10)
    assert order == ["first out", "second in"]
