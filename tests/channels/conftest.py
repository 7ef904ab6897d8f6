"""A separate process that holds an outbox claim owner's lock, for crash-recovery tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Becomes owner argv[2] in directory argv[1], says so, and waits to be killed.
CHILD = """
import sys, time
from pathlib import Path
from secure_msg.channels.claim_owner import FileClaimOwner
FileClaimOwner(Path(sys.argv[1]), sys.argv[2])
print("ready", flush=True)
time.sleep(60)
"""

OwnerProcess = Callable[[Path, str], Callable[[], None]]


@pytest.fixture
def owner_process() -> Iterator[OwnerProcess]:
    """Start a process that owns `id` in `directory`; returns its kill -9."""
    children: list[subprocess.Popen[str]] = []

    def start(directory: Path, owner_id: str) -> Callable[[], None]:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(directory), owner_id], stdout=subprocess.PIPE,
            text=True, env={**os.environ})
        children.append(child)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"

        def kill() -> None:
            child.send_signal(signal.SIGKILL)
            child.wait(10)

        return kill

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
            child.wait(10)
