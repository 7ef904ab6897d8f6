"""In-process fan-out of "new entry" events to connected members (WebSocket).

Only ids and sequence numbers travel here, never envelopes: a client fetches the entry through the
normal, access-checked API. One process only; scale-out would use PostgreSQL LISTEN/NOTIFY.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

QUEUE_LIMIT = 256


@dataclass(frozen=True)
class EntryEvent:
    booklet_id: bytes
    seq: int
    kind: int
    author_id: bytes


class Hub:
    def __init__(self) -> None:
        self._subscribers: dict[bytes, set[asyncio.Queue[EntryEvent]]] = defaultdict(set)
        # Server-side listeners (e.g. new-entry pings); they get ids only, like subscribers.
        self.observers: list[Callable[[EntryEvent, list[bytes]], None]] = []

    def subscribe(self, account_id: bytes) -> asyncio.Queue[EntryEvent]:
        queue: asyncio.Queue[EntryEvent] = asyncio.Queue(QUEUE_LIMIT)
        self._subscribers[account_id].add(queue)
        return queue

    def unsubscribe(self, account_id: bytes, queue: asyncio.Queue[EntryEvent]) -> None:
        queues = self._subscribers.get(account_id)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._subscribers[account_id]

    def publish(self, event: EntryEvent, readers: list[bytes]) -> None:
        """Deliver to the entry's readers only; a slow client drops events and re-syncs by seq."""
        for observer in self.observers:
            observer(event, readers)
        for reader in readers:
            for queue in self._subscribers.get(reader, ()):
                if not queue.full():
                    queue.put_nowait(event)

    def connections(self) -> int:
        return sum(len(q) for q in self._subscribers.values())
