"""Fault injection for the local Twilio-compatible server.

Queued faults hit the next Messages-create requests in order, one each;
sticky faults hit every create request to one number (checked first, and
they do not use up the queue).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class FaultKind(StrEnum):
    RATE_LIMIT = "429"  # 429 + Retry-After, nothing created
    SERVER_ERROR = "500"  # 500; created too when `accepted`
    TIMEOUT = "timeout"  # hang `hang_seconds`, then answer; created too when `accepted`
    RESET = "reset"  # TCP reset instead of an answer; created too when `accepted`
    INVALID_NUMBER = "21211"
    OPTED_OUT = "21610"
    UNDELIVERED = "undelivered"  # accepted, then the status callback says undelivered
    FAILED = "failed"  # accepted, then the status callback says failed


# Faults after which the message exists although the client saw an error.
AMBIGUOUS_KINDS = frozenset({FaultKind.SERVER_ERROR, FaultKind.TIMEOUT, FaultKind.RESET})


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    retry_after: int = 1  # seconds, for 429
    hang_seconds: float = 30.0  # for timeout
    accepted: bool = False  # for 500 / timeout / reset: store and deliver the message anyway

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        """Build a fault from the control API's JSON, raising ValueError on bad input."""
        kind = FaultKind(str(data.get("kind")))
        retry_after = data.get("retry_after", 1)
        hang = data.get("hang_seconds", 30.0)
        accepted = data.get("accepted", False)
        if not isinstance(retry_after, int) or isinstance(retry_after, bool) or retry_after < 0:
            raise ValueError("retry_after must be a non-negative integer")
        if not isinstance(hang, int | float) or isinstance(hang, bool) or hang < 0:
            raise ValueError("hang_seconds must be a non-negative number")
        if not isinstance(accepted, bool):
            raise ValueError("accepted must be a boolean")
        if accepted and kind not in AMBIGUOUS_KINDS:
            raise ValueError("accepted only applies to 500, timeout and reset")
        return cls(kind, retry_after, float(hang), accepted)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultBook:
    """Queued and per-number sticky faults."""

    def __init__(self) -> None:
        self._queue: deque[Fault] = deque()
        self._sticky: dict[str, Fault] = {}

    def queue(self, fault: Fault, count: int = 1) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        self._queue.extend([fault] * count)

    def stick(self, number: str, fault: Fault) -> None:
        self._sticky[number] = fault

    def unstick(self, number: str) -> None:
        self._sticky.pop(number, None)

    def take(self, to: str) -> Fault | None:
        """The fault for the next create request to `to`, if any."""
        sticky = self._sticky.get(to)
        if sticky is not None:
            return sticky
        return self._queue.popleft() if self._queue else None

    def clear(self) -> None:
        self._queue.clear()
        self._sticky.clear()

    def to_json(self) -> dict[str, Any]:
        return {
            "queued": [f.to_json() for f in self._queue],
            "sticky": {n: f.to_json() for n, f in self._sticky.items()},
        }

    def apply_json(self, data: Mapping[str, Any]) -> None:
        """Apply one control request: `{"kind": …, "count": N}` or `{"kind": …, "number": …}`.

        `{"faults": [...]}` applies several; `{"number": …, "clear": true}` drops a sticky rule.
        Validates everything before changing anything.
        """
        items = data.get("faults", [data])
        if not isinstance(items, list) or not items:
            raise ValueError("faults must be a non-empty list")
        plan: list[tuple[str | None, Fault | None, int]] = []
        for item in items:
            if not isinstance(item, Mapping):
                raise ValueError("each fault must be an object")
            number = item.get("number")
            if number is not None and not isinstance(number, str):
                raise ValueError("number must be a string")
            if item.get("clear") is True:
                if number is None:
                    raise ValueError("clear needs a number")
                plan.append((number, None, 0))
                continue
            count = item.get("count", 1)
            if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                raise ValueError("count must be a positive integer")
            plan.append((number, Fault.from_json(item), count))
        for number, fault, count in plan:
            if fault is None:
                self.unstick(str(number))
            elif number is not None:
                self.stick(number, fault)
            else:
                self.queue(fault, count)
