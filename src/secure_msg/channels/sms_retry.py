"""The project's own retry policy for sending SMS (DESIGN §5).

Pure functions, no I/O: the gateway classifies each failed attempt and asks
`decide` whether to try again and after how long.

- 429 is always retryable and Retry-After is honoured: nothing was created.
- 5xx, timeouts and connection errors are *ambiguous*: the message may have
  been created, so a retry can duplicate it. Retry with exponential backoff
  and jitter up to `max_ambiguous_attempts`, then give up visibly.
- 21211 (invalid number) and 21610 (opted out) are permanent with their own
  reasons; other 4xx are permanent too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

TWILIO_INVALID_NUMBER = 21211
TWILIO_OPTED_OUT = 21610


class FailureKind(StrEnum):
    """Why one attempt failed; also the stable reason code reported to callers."""

    RATE_LIMITED = "rate-limited"
    PROVIDER_ERROR = "provider-error"  # 5xx or an unreadable success answer
    TIMEOUT = "timeout"
    CONNECTION = "connection-error"
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


_AMBIGUOUS = frozenset({FailureKind.PROVIDER_ERROR, FailureKind.TIMEOUT, FailureKind.CONNECTION})


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


def decide(
    policy: RetryPolicy, failure: AttemptFailure, *, ambiguous_failures: int, rand: float
) -> Decision:
    """Retry (after how long) or give up, after `failure`.

    `ambiguous_failures` counts the ambiguous attempts so far, this one
    included; `rand` in [0, 1) supplies the jitter so tests are exact.
    """
    if not 0.0 <= rand < 1.0:
        raise ValueError("rand must be in [0, 1)")
    if failure.kind is FailureKind.RATE_LIMITED:
        wait = failure.retry_after
        if wait is None:
            wait = policy.default_retry_after
        wait = min(max(wait, 0.0), policy.max_retry_after)
        return Retry(wait * (1.0 + policy.retry_after_jitter * rand))
    if failure.kind.ambiguous:
        if ambiguous_failures >= policy.max_ambiguous_attempts:
            return GiveUp(failure.kind)
        ceiling = min(policy.max_delay, policy.base_delay * 2 ** (ambiguous_failures - 1))
        return Retry(ceiling / 2 + rand * ceiling / 2)  # "equal jitter": never zero
    return GiveUp(failure.kind)
