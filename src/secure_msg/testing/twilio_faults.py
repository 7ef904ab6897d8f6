"""Fault injection for the local Twilio-compatible server.

Queued faults hit the next Messages-create requests in order, one each;
sticky faults hit every create request to one number (checked first, and
they do not use up the queue); a number's own queue (a number with a count)
hits the next requests to that number only.
"""

from __future__ import annotations

import random
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

    def __init__(self, seed: int | None = None) -> None:
        self._queue: deque[Fault] = deque()
        self._sticky: dict[str, Fault] = {}
        self._per_number: dict[str, deque[Fault]] = {}
        # Random faults: each hits a create request with its probability (benchmarks).
        self._random: list[tuple[float, Fault]] = []
        self._rng = random.Random(seed)

    def add_random(self, fault: Fault, probability: float) -> None:
        if not 0.0 < probability <= 1.0:
            raise ValueError("probability must be in (0, 1]")
        self._random.append((probability, fault))

    def queue(self, fault: Fault, count: int = 1) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        self._queue.extend([fault] * count)

    def queue_for(self, number: str, fault: Fault, count: int = 1) -> None:
        """Hit the next `count` create requests to `number` (and no other number's)."""
        if count < 1:
            raise ValueError("count must be at least 1")
        self._per_number.setdefault(number, deque()).extend([fault] * count)

    def stick(self, number: str, fault: Fault) -> None:
        self._sticky[number] = fault

    def unstick(self, number: str) -> None:
        """Drop the number's sticky rule and its own queue."""
        self._sticky.pop(number, None)
        self._per_number.pop(number, None)

    def take(self, to: str) -> Fault | None:
        """The fault for the next create request to `to`, if any."""
        sticky = self._sticky.get(to)
        if sticky is not None:
            return sticky
        own = self._per_number.get(to)
        if own:
            return own.popleft()
        if self._queue:
            return self._queue.popleft()
        draw = self._rng.random()
        for probability, fault in self._random:
            if draw < probability:
                return fault
            draw -= probability
        return None

    def clear(self) -> None:
        self._queue.clear()
        self._sticky.clear()
        self._per_number.clear()
        self._random.clear()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "queued": [f.to_json() for f in self._queue],
            "sticky": {n: f.to_json() for n, f in self._sticky.items()},
        }
        if any(self._per_number.values()):
            out["per_number"] = {n: [f.to_json() for f in q]
                                 for n, q in self._per_number.items() if q}
        if self._random:
            out["random"] = [{"probability": p, **f.to_json()} for p, f in self._random]
        return out

    def apply_json(self, data: Mapping[str, Any]) -> None:
        """Apply one control request: `{"kind": …, "count": N}` or `{"kind": …, "number": …}`.

        `{"faults": [...]}` applies several; `{"number": …, "clear": true}` drops a sticky rule;
        `{"kind": …, "number": …, "count": N}` hits the next N requests to that number only;
        `{"kind": …, "probability": p}` hits each later request with chance p (benchmarks).
        Validates everything before changing anything.
        """
        items = data.get("faults", [data])
        if not isinstance(items, list) or not items:
            raise ValueError("faults must be a non-empty list")
        # (number, fault, count or None when not given, probability)
        plan: list[tuple[str | None, Fault | None, int | None, float | None]] = []
        for item in items:
            if not isinstance(item, Mapping):
                raise ValueError("each fault must be an object")
            number = item.get("number")
            if number is not None and not isinstance(number, str):
                raise ValueError("number must be a string")
            if item.get("clear") is True:
                if number is None:
                    raise ValueError("clear needs a number")
                plan.append((number, None, None, None))
                continue
            probability = item.get("probability")
            if probability is not None and (
                not isinstance(probability, int | float) or isinstance(probability, bool)
                or not 0.0 < probability <= 1.0
            ):
                raise ValueError("probability must be a number in (0, 1]")
            count = item.get("count", 1)
            if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                raise ValueError("count must be a positive integer")
            plan.append((number, Fault.from_json(item), count if "count" in item else None,
                         float(probability) if probability is not None else None))
        for number, fault, count, chance in plan:
            self._apply(number, fault, count, chance)

    def _apply(self, number: str | None, fault: Fault | None, count: int | None,
               chance: float | None) -> None:
        if fault is None:
            self.unstick(str(number))
        elif chance is not None:
            self.add_random(fault, chance)
        elif number is not None and count is not None:
            self.queue_for(number, fault, count)
        elif number is not None:
            self.stick(number, fault)
        else:
            self.queue(fault, count or 1)
