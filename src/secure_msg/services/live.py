"""Fan-out of "new entry" events to connected members (WebSocket), in every app process.

Only ids and sequence numbers travel here, never envelopes: a client fetches the entry through the
normal, access-checked API. Each fan-out (a `Fanout`) is applied to this process's sockets and,
when the hub has a `relay` (several processes on one PostgreSQL database), sent to the other
processes, which `apply` it to theirs (services/live_bus.py, over LISTEN/NOTIFY). Observers (the
new-entry pings) run in the process that made the change only. On SQLite there is no relay.

Each socket holds a `Subscription` under its account and session. Services end them as soon as
their reason to exist does: logout ends the session's, a password change or recovery the
account's other sessions', and removal from a booklet drops that booklet's queued events (later
entries are not addressed to a former member: the post re-checks the member list) and tells the
removed member's open pages at once. An ended subscription keeps why (`reason`), which the socket
gives as its close reason, so the device that was logged out can say why.

Besides new entries, `ReaderEvent`s say that something else changed in a booklet for one reader:
history granted to them, its appointments, or their removal. Ids only here too.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

QUEUE_LIMIT = 256


@dataclass(frozen=True)
class EntryEvent:
    booklet_id: bytes
    seq: int
    kind: int
    author_id: bytes


@dataclass(frozen=True)
class ReaderEvent:
    """Something changed in a booklet for one reader; `type` is one of READER_EVENTS. The
    client fetches what changed through the API."""

    type: str
    booklet_id: bytes


GRANT = "grant"  # history was granted to the reader: entries and title it could not open
APPOINTMENTS = "appointments"  # its appointments or period changed (booked, cancelled, marked)
REMOVED = "removed"  # the reader is no longer a member
READER_EVENTS = (GRANT, APPOINTMENTS, REMOVED)

# Why a subscription ended: its socket's close reason (code 4401).
LOGGED_OUT = "logged-out"
PASSWORD_CHANGED = "password-changed"  # noqa: S105 (a close reason, not a password)
RECOVERED = "recovered"
SESSION_EXPIRED = "session-expired"


@dataclass(frozen=True)
class MemberEvent:
    """A caregiver joined (every guardian approved) or left (withdrawn, expired)."""

    booklet_id: bytes
    account_id: bytes
    change: str  # joined, withdrawn or expired


@dataclass(frozen=True)
class BookletEvent:
    """A booklet's lifecycle changed (it was closed): open views of it read it again."""

    booklet_id: bytes
    status: str


LiveEvent = EntryEvent | BookletEvent | ReaderEvent | MemberEvent


class Subscription:
    """One socket's queue of events; `ended` once its session is over.

    `on_change` (set by the socket) is called whenever an event is queued or the subscription
    ends. A callback rather than an event to wait on: an idle socket then holds no waiting task
    or future at all, which is most of what ten thousand idle sockets would otherwise cost
    (docs/performance.md, "Idle live connections"). Slots for the same reason."""

    __slots__ = ("_events", "account_id", "ended", "on_change", "reason", "session_key")

    def __init__(self, account_id: bytes, session_key: bytes) -> None:
        self.account_id = account_id
        self.session_key = session_key  # the session token's hash
        self.ended = False
        self.reason = ""
        self.on_change: Callable[[], None] | None = None
        self._events: deque[LiveEvent] | None = None  # made on the first event

    def put(self, event: LiveEvent) -> None:
        """A slow client drops events and re-syncs by seq."""
        if self.ended:
            return
        if self._events is None:
            self._events = deque()
        if len(self._events) < QUEUE_LIMIT:
            self._events.append(event)
            if self.on_change is not None:
                self.on_change()

    def pop(self) -> LiveEvent | None:
        """The next event to send, or None when there is none or the subscription ended."""
        if self.ended or not self._events:
            return None
        return self._events.popleft()

    def end(self, reason: str = SESSION_EXPIRED) -> None:
        if not self.ended:
            self.reason = reason
        self.ended = True
        self._events = None
        if self.on_change is not None:
            self.on_change()

    def drop_booklet(self, booklet_id: bytes) -> None:
        if self._events:
            self._events = deque(e for e in self._events if e.booklet_id != booklet_id)


@dataclass(frozen=True)
class Deliver:
    """`event` to the sockets of `accounts` (publish, notify, announce, booklet_changed)."""

    event: LiveEvent
    accounts: tuple[bytes, ...]


@dataclass(frozen=True)
class EndSession:
    account_id: bytes
    session_key: bytes


@dataclass(frozen=True)
class EndAccount:
    account_id: bytes
    keep: bytes | None
    reason: str


@dataclass(frozen=True)
class MemberRemoved:
    account_id: bytes
    booklet_id: bytes


# One fan-out of the hub, as it travels to the other processes (services/live_wire.py).
Fanout = Deliver | EndSession | EndAccount | MemberRemoved
END_REASONS = (LOGGED_OUT, PASSWORD_CHANGED, RECOVERED, SESSION_EXPIRED)


class Hub:
    def __init__(self) -> None:
        self._subscribers: dict[bytes, set[Subscription]] = defaultdict(set)
        # Server-side listeners (e.g. new-entry pings); they get ids only, like subscribers.
        # They run in the process that made the change only, never for a relayed fan-out:
        # a ping is queued once however many processes there are.
        self.observers: list[Callable[[EntryEvent, list[bytes]], None]] = []
        # Set by the bus on PostgreSQL (services/live_bus.py): each fan-out made here is also
        # sent to the other processes, which `apply` it to their own sockets.
        self.relay: Callable[[Fanout], None] | None = None

    def subscribe(self, account_id: bytes, session_key: bytes) -> Subscription:
        subscription = Subscription(account_id, session_key)
        self._subscribers[account_id].add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscriptions = self._subscribers.get(subscription.account_id)
        if subscriptions is not None:
            subscriptions.discard(subscription)
            if not subscriptions:
                del self._subscribers[subscription.account_id]

    def publish(self, event: EntryEvent, readers: list[bytes]) -> None:
        """Deliver to the entry's readers only."""
        for observer in self.observers:
            observer(event, readers)
        self._fan_out(Deliver(event, tuple(readers)))

    def notify(self, event: ReaderEvent, readers: list[bytes]) -> None:
        """A booklet event for `readers` (no observers: they want entries only)."""
        self._fan_out(Deliver(event, tuple(readers)))

    def announce(self, event: MemberEvent, accounts: list[bytes]) -> None:
        """A membership change, to the sockets of `accounts` (observers see entries only)."""
        self._fan_out(Deliver(event, tuple(accounts)))

    def booklet_changed(self, event: BookletEvent, members: list[bytes]) -> None:
        """Tell the booklet's members' sockets; no observers (nothing to ping about)."""
        self._fan_out(Deliver(event, tuple(members)))

    def end_session(self, account_id: bytes, session_key: bytes) -> None:
        """The session was logged out: its sockets close now."""
        self._fan_out(EndSession(account_id, session_key))

    def end_account(self, account_id: bytes, *, keep: bytes | None = None,
                    reason: str = PASSWORD_CHANGED) -> None:
        """Every session of the account but `keep` ended (password change, recovery)."""
        self._fan_out(EndAccount(account_id, keep, reason))

    def member_removed(self, account_id: bytes, booklet_id: bytes) -> None:
        """A removed member's sockets stay open for their other booklets; this one's queued
        events are dropped before they go out, and its open pages are told at once."""
        self._fan_out(MemberRemoved(account_id, booklet_id))

    def _fan_out(self, fanout: Fanout) -> None:
        self.apply(fanout)
        if self.relay is not None:
            self.relay(fanout)

    def apply(self, fanout: Fanout) -> None:
        """This process's sockets only, and no observers: a fan-out made here, or relayed
        from another process."""
        if isinstance(fanout, Deliver):
            for account in fanout.accounts:
                for subscription in self._subscribers.get(account, ()):
                    subscription.put(fanout.event)
        elif isinstance(fanout, EndSession):
            for subscription in self._subscribers.get(fanout.account_id, ()):
                if subscription.session_key == fanout.session_key:
                    subscription.end(LOGGED_OUT)
        elif isinstance(fanout, EndAccount):
            for subscription in self._subscribers.get(fanout.account_id, ()):
                if subscription.session_key != fanout.keep:
                    subscription.end(fanout.reason)
        else:
            for subscription in self._subscribers.get(fanout.account_id, ()):
                subscription.drop_booklet(fanout.booklet_id)
                subscription.put(ReaderEvent(REMOVED, fanout.booklet_id))

    def connections(self) -> int:
        return sum(len(s) for s in self._subscribers.values())
