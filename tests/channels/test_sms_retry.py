"""The project's SMS retry policy as a pure function."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from secure_msg.channels.sms_retry import (
    AttemptFailure,
    FailureKind,
    GiveUp,
    OutboxRetry,
    Requeue,
    Retry,
    RetryPolicy,
    after_failure,
    classify_http_error,
    decide,
    parse_retry_after,
)

POLICY = RetryPolicy(max_ambiguous_attempts=4, base_delay=1.0, max_delay=5.0)
NOW = datetime(2025, 5, 13, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (429, 20429, FailureKind.RATE_LIMITED),
        (500, 20500, FailureKind.PROVIDER_ERROR),
        (503, None, FailureKind.PROVIDER_ERROR),
        (400, 21211, FailureKind.INVALID_NUMBER),
        (400, 21610, FailureKind.OPTED_OUT),
        (401, 20003, FailureKind.AUTH),
        (403, None, FailureKind.AUTH),
        (400, 21611, FailureKind.QUEUE_FULL),
        (400, 21602, FailureKind.REJECTED),
        (404, 20404, FailureKind.REJECTED),
    ],
)
def test_classification(status: int, code: int | None, kind: FailureKind) -> None:
    """HTTP status and Twilio code map to the documented failure kinds."""
    assert classify_http_error(status, code) is kind


def test_ambiguity() -> None:
    """Only 5xx, timeouts and connection errors are ambiguous."""
    assert {k for k in FailureKind if k.ambiguous} == {
        FailureKind.PROVIDER_ERROR,
        FailureKind.TIMEOUT,
        FailureKind.CONNECTION,
    }


def test_not_sent_kinds() -> None:
    """A 429, an unreachable Twilio and a full Twilio queue created nothing: retrying them can
    never duplicate. No kind is both."""
    assert {k for k in FailureKind if k.not_sent} == {
        FailureKind.RATE_LIMITED, FailureKind.UNREACHABLE, FailureKind.QUEUE_FULL}
    assert not any(k.not_sent and k.ambiguous for k in FailureKind)


@pytest.mark.parametrize("kind", [FailureKind.UNREACHABLE, FailureKind.QUEUE_FULL])
def test_not_sent_is_retried_with_backoff_without_limit(kind: FailureKind) -> None:
    """The gateway retries what created nothing however often it failed, with backoff capped
    at max_delay (the outbox's deadline, not a count, ends it)."""
    failure = AttemptFailure(kind)
    assert decide(POLICY, failure, ambiguous_failures=0, rand=0.0, failures=1) == Retry(0.5)
    assert decide(POLICY, failure, ambiguous_failures=0, rand=0.0, failures=3) == Retry(2.0)
    many = decide(POLICY, failure, ambiguous_failures=0, rand=0.999, failures=10_000)
    assert isinstance(many, Retry)
    assert many.delay <= 5.0


OUTBOX = OutboxRetry(base_delay=1.0, max_delay=60.0, reconcile_delay=10.0)


def test_outbox_429_waits_retry_after_and_uses_no_attempt() -> None:
    """A 429 comes back after exactly what the gateway computed from Retry-After, nothing
    created, and does not count toward the notice's attempts, however many came before."""
    for attempts in (1, 8, 500):
        assert after_failure(OUTBOX, FailureKind.RATE_LIMITED, attempts=attempts,
                             retry_after=1.05, rand=0.3) == Requeue(1.05, False, counted=False)


@pytest.mark.parametrize("kind", [FailureKind.UNREACHABLE, FailureKind.QUEUE_FULL])
def test_outbox_not_sent_backs_off_and_never_gives_up(kind: FailureKind) -> None:
    """Nothing created: queued again with exponential backoff up to max_delay, for ever (the
    deadline ends it), never marked ambiguous."""
    delays = [after_failure(OUTBOX, kind, attempts=n, retry_after=None, rand=0.0)
              for n in (1, 2, 3, 20, 10_000)]
    assert delays == [Requeue(d, ambiguous=False, counted=True)
                      for d in (0.5, 1.0, 2.0, 30.0, 30.0)]


@pytest.mark.parametrize(
    "kind", [FailureKind.PROVIDER_ERROR, FailureKind.TIMEOUT, FailureKind.CONNECTION])
def test_outbox_ambiguous_waits_to_reconcile(kind: FailureKind) -> None:
    """Maybe created: marked ambiguous (the next claim reconciles before any resend), not
    sooner than the reconcile delay, later when the backoff is longer; never given up."""
    first = after_failure(OUTBOX, kind, attempts=1, retry_after=None, rand=0.0)
    later = after_failure(OUTBOX, kind, attempts=8, retry_after=None, rand=0.0)
    assert first == Requeue(10.0, ambiguous=True, counted=True)
    assert later == Requeue(30.0, ambiguous=True, counted=True)


@pytest.mark.parametrize(
    "kind", [FailureKind.INVALID_NUMBER, FailureKind.OPTED_OUT, FailureKind.AUTH,
             FailureKind.REJECTED, FailureKind.NOT_AN_SMS_ADDRESS, FailureKind.NO_TEMPLATE])
def test_outbox_permanent_gives_up(kind: FailureKind) -> None:
    assert after_failure(OUTBOX, kind, attempts=1, retry_after=None, rand=0.0) == GiveUp(kind)


def test_outbox_policy_validation() -> None:
    with pytest.raises(ValueError, match="base_delay"):
        OutboxRetry(base_delay=5.0, max_delay=1.0)
    with pytest.raises(ValueError, match="reconcile_delay"):
        OutboxRetry(reconcile_delay=-1.0)
    with pytest.raises(ValueError, match="rand"):
        after_failure(OUTBOX, FailureKind.TIMEOUT, attempts=1, retry_after=None, rand=1.0)


def test_429_always_retried_honouring_retry_after() -> None:
    """A 429 is retried however many came before, never sooner than Retry-After."""
    failure = AttemptFailure(FailureKind.RATE_LIMITED, 429, None, retry_after=7.0)
    for n in (0, 10, 1000):
        low = decide(POLICY, failure, ambiguous_failures=n, rand=0.0)
        high = decide(POLICY, failure, ambiguous_failures=n, rand=0.999)
        assert low == Retry(7.0)
        assert isinstance(high, Retry)
        assert 7.0 <= high.delay <= 7.0 * 1.1


def test_429_without_header_uses_default_and_huge_values_are_capped() -> None:
    """No Retry-After means the default wait; absurd values are capped."""
    bare = AttemptFailure(FailureKind.RATE_LIMITED, 429)
    huge = AttemptFailure(FailureKind.RATE_LIMITED, 429, retry_after=10**9)
    assert decide(POLICY, bare, ambiguous_failures=0, rand=0.0) == Retry(1.0)
    assert decide(POLICY, huge, ambiguous_failures=0, rand=0.0) == Retry(3600.0)


@pytest.mark.parametrize(
    "kind", [FailureKind.PROVIDER_ERROR, FailureKind.TIMEOUT, FailureKind.CONNECTION]
)
def test_ambiguous_backoff_then_give_up(kind: FailureKind) -> None:
    """Ambiguous failures back off exponentially (capped) and give up at the limit."""
    failure = AttemptFailure(kind)
    ceilings = [1.0, 2.0, 4.0]
    for n, ceiling in enumerate(ceilings, start=1):
        assert decide(POLICY, failure, ambiguous_failures=n, rand=0.0) == Retry(ceiling / 2)
        top = decide(POLICY, failure, ambiguous_failures=n, rand=0.999999)
        assert isinstance(top, Retry)
        assert ceiling / 2 < top.delay < ceiling
    assert decide(POLICY, failure, ambiguous_failures=4, rand=0.5) == GiveUp(kind)


def test_backoff_is_capped_by_max_delay() -> None:
    """The backoff ceiling never exceeds max_delay."""
    policy = RetryPolicy(max_ambiguous_attempts=50, base_delay=1.0, max_delay=5.0)
    result = decide(policy, AttemptFailure(FailureKind.TIMEOUT), ambiguous_failures=30, rand=0.999)
    assert isinstance(result, Retry)
    assert result.delay <= 5.0


@pytest.mark.parametrize(
    "kind",
    [FailureKind.INVALID_NUMBER, FailureKind.OPTED_OUT, FailureKind.AUTH, FailureKind.REJECTED],
)
def test_permanent_failures_give_up_with_their_reason(kind: FailureKind) -> None:
    """21211, 21610, auth and other 4xx are never retried and keep a distinct reason."""
    assert decide(POLICY, AttemptFailure(kind, 400), ambiguous_failures=0, rand=0.0) == GiveUp(kind)


def test_rand_out_of_range_is_rejected() -> None:
    """A jitter source outside [0, 1) is a programming error."""
    with pytest.raises(ValueError, match="rand"):
        decide(POLICY, AttemptFailure(FailureKind.TIMEOUT), ambiguous_failures=1, rand=1.0)


def test_policy_validation() -> None:
    """Nonsensical limits are refused at construction."""
    with pytest.raises(ValueError, match="max_ambiguous_attempts"):
        RetryPolicy(max_ambiguous_attempts=0)
    with pytest.raises(ValueError, match="base_delay"):
        RetryPolicy(base_delay=10.0, max_delay=1.0)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        (" 0 ", 0.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        (format_datetime(NOW - timedelta(seconds=90), usegmt=True), 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("٣", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    """Retry-After parses as delta-seconds or HTTP-date; junk gives None."""
    assert parse_retry_after(header, NOW) == seconds
