"""The Argon2id gate runs at most max_running at once, queues max_queued, refuses the rest."""

from __future__ import annotations

import asyncio
import threading

import pytest

from secure_msg.crypto import verifier
from secure_msg.errors import Overloaded
from secure_msg.services.argon2_gate import Argon2Gate


class Holder:
    """Work that tells the loop when its thread has a slot, and holds it until released."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.entered: asyncio.Queue[int] = asyncio.Queue()
        self.release = threading.Event()

    def __call__(self, i: int = 0) -> int:
        self.loop.call_soon_threadsafe(self.entered.put_nowait, i)
        self.release.wait()
        return i


async def test_beyond_the_queue_work_is_refused_with_a_wait_and_later_served() -> None:
    """Two held slots and one queued: the next call is refused at once with Retry-After, and
    the queued one runs once the held work ends."""
    gate = Argon2Gate(max_running=2, max_queued=1)
    hold = Holder()
    held = [asyncio.ensure_future(gate.run(hold, i)) for i in range(3)]
    await hold.entered.get()
    await hold.entered.get()
    assert gate.in_use == 3  # the third waits in the gate, not in a thread
    with pytest.raises(Overloaded) as err:
        await gate.run(lambda: True)
    assert err.value.status == 503
    assert int(err.value.headers()["Retry-After"]) >= 1
    assert gate.stats.refused == 1
    hold.release.set()
    assert sorted(await asyncio.gather(*held)) == [0, 1, 2]
    stored = await gate.hash(b"k" * 32, verifier.MIN_PARAMS)
    assert await gate.verify(stored, b"k" * 32)
    assert (gate.stats.verifications, gate.stats.hashes, gate.in_use) == (1, 1, 0)


async def test_at_most_max_running_run_at_once() -> None:
    """Six calls through two slots: while the first two hold theirs, no third thread enters,
    and all six finish in turn."""
    gate = Argon2Gate(max_running=2, max_queued=4)
    hold = Holder()
    calls = asyncio.gather(*(gate.run(hold, i) for i in range(6)))
    first = {await hold.entered.get(), await hold.entered.get()}
    assert hold.entered.empty()
    assert gate.in_use == 6
    hold.release.set()
    assert await calls == list(range(6))
    assert len(first) == 2


async def test_a_cancelled_caller_keeps_the_slot_until_its_thread_ends() -> None:
    """Cancelling the awaiting request does not free the slot while Argon2id still runs: the
    next call queues behind it and runs when the thread is done."""
    gate = Argon2Gate(max_running=1, max_queued=1)
    hold = Holder()
    task = asyncio.ensure_future(gate.run(hold))
    await hold.entered.get()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    after = asyncio.ensure_future(gate.run(lambda: "ran"))
    await asyncio.sleep(0)  # its first step: queued, since the slot is still held
    assert gate.in_use == 2
    with pytest.raises(Overloaded):
        await gate.run(lambda: True)
    hold.release.set()
    assert await after == "ran"
