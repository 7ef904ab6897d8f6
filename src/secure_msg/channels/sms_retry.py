"""The project's own retry policy for sending SMS (DESIGN §5).

Pure functions, no I/O: the gateway classifies each failed attempt and asks `decide` whether to
try again inline and after how long; the outbox asks `after_failure` what to record.

Every failure falls into one of four classes:

- *rate limited* (429): nothing was created. Wait Retry-After; it uses up no attempt.
- *not sent* (the connection was refused or never set up — DNS, TLS — so the request was never
  written; or Twilio's 21611, its queue for the number is full): nothing was created. Retry
  with exponential backoff and jitter, for as long as the notice is still useful.
- *ambiguous* (5xx, a timeout or a dropped connection after the request was written): the
  message may have been created, so a blind retry can duplicate it. The outbox reconciles with
  Twilio's message list before it sends again; the gateway alone retries up to
  `max_ambiguous_attempts` and flags the result as a possible duplicate.
- *permanent*: 21211 (invalid number) and 21610 (opted out) with their own reasons, 401/403
  (the credentials) and any other 4xx. Given up at once, visibly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

TWILIO_INVALID_NUMBER = 21211
TWILIO_OPTED_OUT = 21610
TWILIO_QUEUE_FULL = 21611  # "the From number has exceeded the maximum number of queued messages"


class FailureKind(StrEnum):
    """Why one attempt failed; also the stable reason code reported to callers."""

    RATE_LIMITED = "rate-limited"
    PROVIDER_ERROR = "provider-error"  # 5xx or an unreadable success answer
    TIMEOUT = "timeout"
    CONNECTION = "connection-error"  # dropped after the request was written
    UNREACHABLE = "unreachable"  # refused, DNS, TLS or timed out before the request was written
    QUEUE_FULL = "provider-queue-full"  # 21611: nothing created, Twilio's queue is full
    INVALID_NUMBER = "invalid-number"
    OPTED_OUT = "opted-out"
    AUTH = "auth-failed"
    REJECTED = "rejected"  # any other 4xx
    NOT_AN_SMS_ADDRESS = "not-an-sms-address"  # refused locally, nothing sent
    NO_TEMPLATE = "no-template"  # WhatsApp: no approved template for the kind; nothing sent

    @property
    def ambiguous(self) -> bool:
        """True when the provider may have created the message despite the failure."""
        return self in _AMBIGUOUS

    @property
    def not_sent(self) -> bool:
        """True when nothing was created and trying again later may work."""
        return self in _NOT_SENT


_AMBIGUOUS = frozenset({FailureKind.PROVIDER_ERROR, FailureKind.TIMEOUT, FailureKind.CONNECTION})
_NOT_SENT = frozenset({FailureKind.RATE_LIMITED, FailureKind.UNREACHABLE, FailureKind.QUEUE_FULL})


@dataclass(frozen=True)
class AttemptFailure:
    """One failed attempt as the policy sees it (no provider text)."""

    kind: FailureKind
    status: int | None = None
    error_code: int | None = None
    retry_after: float | None = None  # seconds, from a 429's Retry-After


@dataclass(frozen=True)
class RetryPolicy:
    """Tunable limits; all times in seconds."""

    max_ambiguous_attempts: int = 4  # total attempts that ended ambiguously
    base_delay: float = 0.5
    max_delay: float = 20.0
    default_retry_after: float = 1.0  # 429 without a usable Retry-After
    max_retry_after: float = 3600.0
    retry_after_jitter: float = 0.1  # up to +10 %, never earlier than asked

    def __post_init__(self) -> None:
        if self.max_ambiguous_attempts < 1:
            raise ValueError("max_ambiguous_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ValueError("need 0 <= base_delay <= max_delay")


@dataclass(frozen=True)
class Retry:
    delay: float


@dataclass(frozen=True)
class GiveUp:
    reason: FailureKind


Decision = Retry | GiveUp


def classify_http_error(status: int, error_code: int | None) -> FailureKind:
    """Map an HTTP error answer (status + Twilio error code) to a failure kind."""
    if status == 429:
        return FailureKind.RATE_LIMITED
    if status >= 500:
        return FailureKind.PROVIDER_ERROR
    if error_code == TWILIO_INVALID_NUMBER:
        return FailureKind.INVALID_NUMBER
    if error_code == TWILIO_OPTED_OUT:
        return FailureKind.OPTED_OUT
    if error_code == TWILIO_QUEUE_FULL:
        return FailureKind.QUEUE_FULL
    if status in (401, 403):
        return FailureKind.AUTH
    return FailureKind.REJECTED


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), None if unusable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def backoff(base: float, ceiling: float, failures: int, rand: float) -> float:
    """Exponential backoff with "equal jitter" (never zero): about base · 2^(failures-1),
    at most `ceiling`."""
    top = min(ceiling, base * 2.0 ** min(max(failures - 1, 0), 62))
    return top / 2 + rand * top / 2


def decide(
    policy: RetryPolicy, failure: AttemptFailure, *, ambiguous_failures: int, rand: float,
    failures: int = 1,
) -> Decision:
    """Retry (after how long) or give up, after `failure`.

    `ambiguous_failures` counts the ambiguous attempts so far, this one included, and
    `failures` every failed attempt; `rand` in [0, 1) supplies the jitter so tests are exact.
    """
    if not 0.0 <= rand < 1.0:
        raise ValueError("rand must be in [0, 1)")
    if failure.kind is FailureKind.RATE_LIMITED:
        return Retry(retry_after_delay(policy, failure.retry_after, rand))
    if failure.kind.not_sent:
        return Retry(backoff(policy.base_delay, policy.max_delay, failures, rand))
    if failure.kind.ambiguous:
        if ambiguous_failures >= policy.max_ambiguous_attempts:
            return GiveUp(failure.kind)
        return Retry(backoff(policy.base_delay, policy.max_delay, ambiguous_failures, rand))
    return GiveUp(failure.kind)


def retry_after_delay(policy: RetryPolicy, retry_after: float | None, rand: float) -> float:
    """How long to wait after a 429: its Retry-After (or the default), capped, plus up to
    `retry_after_jitter` so that many waiting notices do not all come back at once."""
    wait = policy.default_retry_after if retry_after is None else retry_after
    wait = min(max(wait, 0.0), policy.max_retry_after)
    return wait * (1.0 + policy.retry_after_jitter * rand)


# -- the outbox's policy -------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxRetry:
    """How the durable outbox spaces its attempts (seconds). A notice is retried until its
    deadline (model/notices.deadline_ms), never given up earlier for a transient failure."""

    base_delay: float = 1.0
    max_delay: float = 300.0
    # After an ambiguous attempt, wait at least this long before listing the provider's
    # messages: a create that timed out may still be on its way into the list.
    reconcile_delay: float = 10.0

    def __post_init__(self) -> None:
        if self.base_delay < 0 or self.max_delay < self.base_delay or self.reconcile_delay < 0:
            raise ValueError("need 0 <= base_delay <= max_delay and reconcile_delay >= 0")


@dataclass(frozen=True)
class Requeue:
    """Try again after `delay` seconds."""

    delay: float
    ambiguous: bool  # the attempt may have created the message: reconcile before resending
    counted: bool  # the attempt counts toward the notice's attempts (a 429 does not)


def after_failure(policy: OutboxRetry, kind: FailureKind, *, attempts: int,
                  retry_after: float | None, rand: float) -> Requeue | GiveUp:
    """What the outbox does after a failed attempt of kind `kind`: `attempts` counts the
    notice's attempts that counted, this one included; `retry_after` is the wait a 429 asked
    for (the gateway has already capped and jittered it)."""
    if not 0.0 <= rand < 1.0:
        raise ValueError("rand must be in [0, 1)")
    if kind is FailureKind.RATE_LIMITED:
        return Requeue(max(retry_after or 0.0, 0.0), ambiguous=False, counted=False)
    delay = backoff(policy.base_delay, policy.max_delay, attempts, rand)
    if kind.not_sent:
        return Requeue(delay, ambiguous=False, counted=True)
    if kind.ambiguous:
        return Requeue(max(delay, policy.reconcile_delay), ambiguous=True, counted=True)
    return GiveUp(kind)
