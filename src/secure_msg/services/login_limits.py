"""How many Argon2id verifications a login name and a client address may cost (threat model §6).

An attempt is counted as a failure *before* its verification starts (a reservation) and
un-counted when it succeeds or never runs, so a burst of concurrent guesses cannot all pass the
check before the first failure is recorded. Three counts share one window:

- per login name and client address (`login_max_failures`): what one source may guess at one
  name. It is what a stranger at another address cannot use against the owner;
- per login name from all addresses (`login_name_max_failures`): bounds guessing spread over
  many addresses. When it trips, password login for the name waits for the window, and the owner
  gets in with the recovery key, which this count does not cover;
- per client address (`client_max_failures`): one source trying many names.

Recovery is counted per name and address and per address, never per name alone: its key has 160
random bits, so online guessing is hopeless, and a per-name count would only let a stranger lock
the owner out of the one way back in. A successful recovery clears the name's password failures,
since the password they were guessing is gone.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from secure_msg.errors import RateLimited
from secure_msg.services.rate_limit import FailureBook, FailureLimiter, Logs


class Purpose(enum.Enum):
    LOGIN = "login"
    RECOVERY = "recovery"


@dataclass(frozen=True)
class LoginLimitSettings:
    per_name_and_client: int
    per_name: int
    per_client: int
    window_seconds: float


@dataclass(frozen=True)
class _Slot:
    limiter: FailureLimiter
    key: bytes


class Attempt:
    """The failures reserved for one verification. A failed verification keeps them."""

    def __init__(self, book: FailureBook, held: list[tuple[_Slot, float]]) -> None:
        self._book = book
        self._held = held

    def _release(self, logs: Logs) -> None:
        for slot, stamp in self._held:
            slot.limiter.release(logs, slot.key, stamp)

    async def succeeded(self) -> None:
        """Un-count this attempt, and forget earlier failures of this name from this address
        (the owner's own typos); the per-name and per-address counts keep theirs."""
        pair = self._held[0][0]

        def run(logs: Logs) -> None:
            self._release(logs)
            pair.limiter.reset(logs, pair.key)
        await self._book.write(run)

    async def abandoned(self) -> None:
        """The verification never ran (the server was too busy): un-count it."""
        await self._book.write(self._release)


class LoginLimits:
    def __init__(self, book: FailureBook, settings: LoginLimitSettings) -> None:
        window = settings.window_seconds
        self._book = book
        self._pair = FailureLimiter("login.pair", max_failures=settings.per_name_and_client,
                                    window_seconds=window)
        self._name = FailureLimiter("login.name", max_failures=settings.per_name,
                                    window_seconds=window)
        self._client = FailureLimiter("login.client", max_failures=settings.per_client,
                                      window_seconds=window)

    def _slots(self, purpose: Purpose, login: str, client: str) -> list[_Slot]:
        # The pair comes first: Attempt.succeeded resets it.
        slots = [_Slot(self._pair, _key(purpose.value, login, client)),
                 _Slot(self._client, _key(client))]
        if purpose is Purpose.LOGIN:
            slots.append(_Slot(self._name, _key(purpose.value, login)))
        return slots

    async def begin(self, purpose: Purpose, login: str, client: str) -> Attempt:
        """Reserve a failure on every count of this attempt, or raise RateLimited with the
        longest wait among the counts that are full. The check and the reservation are one
        step of the book (one write transaction when shared), so concurrent attempts, on this
        process or another, cannot both pass a full count."""
        slots = self._slots(purpose, login, client)

        def run(logs: Logs) -> list[tuple[_Slot, float]] | int:
            waits = [w for s in slots if (w := s.limiter.retry_after(logs, s.key)) is not None]
            if waits:  # returned, not raised: a refusal is no failed write
                return max(waits)
            return [(s, s.limiter.fail(logs, s.key)) for s in slots]
        held = await self._book.write(run)
        if isinstance(held, int):
            raise RateLimited(held, "Too many failed attempts. Wait a moment and try again.")
        return Attempt(self._book, held)

    async def recovered(self, login: str, client: str) -> None:
        """A new password was set with the recovery key: the guesses at the old one no longer
        matter, so the name's password counts start again."""

        def run(logs: Logs) -> None:
            self._name.reset(logs, _key(Purpose.LOGIN.value, login))
            self._pair.reset(logs, _key(Purpose.LOGIN.value, login, client))
        await self._book.write(run)


def _key(*parts: str) -> bytes:
    return "\x00".join(parts).encode()
