"""The live hub ends subscriptions with their session and drops a removed member's events."""

from __future__ import annotations

from secure_msg.services.live import REMOVED, EntryEvent, Hub, ReaderEvent


def test_removal_drops_that_booklets_queued_events_only() -> None:
    """Events already queued for a removed member's socket are dropped for that booklet and
    kept for the others, in order, then the removal itself; a logout drops the rest and says
    why."""
    hub = Hub()
    member, session = b"m" * 16, b"s" * 32
    subscription = hub.subscribe(member, session)
    a, b = b"a" * 16, b"b" * 16
    for seq in (1, 2):
        for booklet in (a, b):
            hub.publish(EntryEvent(booklet, seq, 2, b"t" * 16), [member])
    hub.member_removed(member, a)
    assert list(iter(subscription.pop, None)) == [
        EntryEvent(b, 1, 2, b"t" * 16), EntryEvent(b, 2, 2, b"t" * 16), ReaderEvent(REMOVED, a)]
    hub.publish(EntryEvent(b, 3, 2, b"t" * 16), [member])
    hub.end_session(member, b"another session".ljust(32))
    assert not subscription.ended
    hub.end_session(member, session)
    assert (subscription.ended, subscription.reason) == (True, "logged-out")
    assert subscription.pop() is None


def test_ending_an_account_spares_the_kept_session() -> None:
    """A password change ends every other session's subscription, not the changing one's."""
    hub = Hub()
    member = b"m" * 16
    kept, other = hub.subscribe(member, b"k" * 32), hub.subscribe(member, b"o" * 32)
    stranger = hub.subscribe(b"x" * 16, b"o" * 32)
    hub.end_account(member, keep=b"k" * 32)
    assert (kept.ended, other.ended, stranger.ended) == (False, True, False)
    assert other.reason == "password-changed"
    hub.unsubscribe(other)
    assert hub.connections() == 2
