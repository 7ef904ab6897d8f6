"""The durable outbox worker: claims due notices, sends them, records what happened.

Durability (invariant 5): a notice exists as a committed row before anyone is told it is queued.
The worker claims rows with a lease (`claimed_until_ms`, `claimed_by`: this process's
`ClaimOwner`) in one transaction, sends, then records the outcome. At start, and every
`recover_every_seconds` after, it takes over the claims of owners that are provably gone
(`recover`: a peer killed while this one runs, on any machine on PostgreSQL); others' wait out
their lease.

What a failed attempt means decides what happens next (channels/sms_retry.py): a 429 waits its
Retry-After without using an attempt; a failure that created nothing (Twilio unreachable) is
retried with backoff; an ambiguous one (5xx, a timeout or reset after the request was written)
leaves the notice `ambiguous`, and its next claim — like the claim of a notice whose process died
while sending — first lists the provider's messages (`find`): found once, its sid is adopted
(`reconciled`); found more than once, `duplicate_suspected`; not found, it is sent again. Nothing
transient gives a notice up: it is retried until its deadline (the appointment's start, or
`horizon_ms` after it was due) and then ends `expired`. A token bucket holds the send rate to
`rate_per_second` for the one sending number. Notices sent but never confirmed (a status callback
lost while the service was down) are polled (`fetch_status`) after `status_poll_after_ms`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from secure_msg.channels.claim_owner import ClaimOwner
from secure_msg.channels.sms import (
    Failed,
    MessageLookup,
    RetryLater,
    SendResult,
    Sent,
    SmsGateway,
)
from secure_msg.channels.sms_retry import (
    AttemptFailure,
    FailureKind,
    GiveUp,
    OutboxRetry,
    after_failure,
    backoff,
)
from secure_msg.channels.whatsapp import WhatsAppSender
from secure_msg.logging import get_logger, log_event
from secure_msg.model.channel_policy import Channel
from secure_msg.model.notice_templates import NoticeKind, NoticeRenderer, TemplateError
from secure_msg.model.notices import (
    POLL_FOR_MS,
    RECONCILE_SKEW_MS,
    ClaimedNotice,
    NoticeStatus,
    deadline_ms,
    render_slots,
)
from secure_msg.services import outbox
from secure_msg.services.core import Core

log = get_logger(__name__)
EmailSend = Callable[[str, NoticeKind, str, str], Awaitable[SendResult]]


class TokenBucket:
    """At most `rate` acquisitions per second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: float | None = None,
                 now: Callable[[], float] | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate / 10)
        self._now = now or asyncio.get_running_loop().time
        self._tokens = self.burst
        self._at = self._now()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._now()
                self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
                self._at = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)


@dataclass
class OutboxSettings:
    rate_per_second: float = 1.0
    max_attempts: int = 100  # a safety cap: the deadline normally ends retrying first
    lease_ms: int = 60_000
    concurrency: int = 32
    idle_poll_seconds: float = 0.1
    status_callback_url: str | None = None
    retry: OutboxRetry = field(default_factory=OutboxRetry)
    horizon_ms: int = 6 * 3_600_000  # retried this long after it was due, then expired
    status_poll_after_ms: int = 30 * 60_000  # a sent notice this long without news is polled
    status_poll_batch: int = 20
    recover_every_seconds: float = 1.0  # how soon a dead peer's claims are taken over


@dataclass
class OutboxStats:
    """What this process did (counters for /metrics; they restart with the process)."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    expired: int = 0
    released: int = 0  # claims of gone processes taken over
    # create requests by what became of them: sent, rate-limited, not-sent, ambiguous, refused
    attempts: Counter[str] = field(default_factory=Counter)
    # reconciles by result: reconciled, duplicate_suspected, not-found, error
    reconciliations: Counter[str] = field(default_factory=Counter)
    # status polls by result: answered, error
    polls: Counter[str] = field(default_factory=Counter)


def _attempt_outcome(result: SendResult) -> str:
    if isinstance(result, Sent):
        return "sent"
    if result.reason.ambiguous:
        return "ambiguous"
    if result.reason is FailureKind.RATE_LIMITED:
        return "rate-limited"
    return "not-sent" if result.reason.not_sent else "refused"


class OutboxWorker:
    def __init__(
        self, core: Core, renderer: NoticeRenderer,
        settings: OutboxSettings, *, sms: SmsGateway | None = None, email: EmailSend | None = None,
        whatsapp: WhatsAppSender | None = None, rand: Callable[[], float] = random.random,
        owner: ClaimOwner | None = None,
    ) -> None:
        self.core, self.clock, self.renderer = core, core.clock, renderer
        self.settings = settings
        self.sms, self.email, self.whatsapp = sms, email, whatsapp
        self.rand = rand
        self.owner = owner
        self.stats = OutboxStats()
        self._bucket: TokenBucket | None = None
        self._poll_task: asyncio.Task[None] | None = None
        # Our owner's generation when each notice in hand was claimed (`_still_owner`).
        self._claimed_in: dict[int, int] = {}
        self._claim_failures = 0  # claims failed in a row (`_claim_quietly`)
        self.channels = [c.value for c, on in ((Channel.SMS, sms), (Channel.EMAIL, email),
                                               (Channel.WHATSAPP, whatsapp)) if on]

    async def run(self, stop: asyncio.Event,
                  tick: Callable[[], Awaitable[object]] | None = None,
                  tick_seconds: float = 30.0) -> None:
        """Send until `stop` is set; call `tick` (the scheduler) every `tick_seconds`."""
        self._bucket = TokenBucket(self.settings.rate_per_second)
        try:
            await self.recover()
        except Exception:  # never fatal: the claims still come back after their lease
            log.exception("outbox: recovering claims failed")
        inflight: set[asyncio.Task[None]] = set()
        loop = asyncio.get_running_loop()
        next_tick = next_poll = loop.time()
        next_recover = loop.time() + self.settings.recover_every_seconds
        while not stop.is_set():
            if self.owner is not None and loop.time() >= next_recover:
                next_recover = loop.time() + self.settings.recover_every_seconds
                await self._recover_quietly()
            if tick is not None and loop.time() >= next_tick:
                next_tick = loop.time() + tick_seconds
                try:
                    await tick()
                except Exception:  # a bad tick must not stop sending
                    log.exception("scheduler tick failed")
            if loop.time() >= next_poll:
                next_poll = loop.time() + self._poll_every()
                self._start_poll()
            room = self.settings.concurrency - len(inflight)
            claimed = await self._claim_quietly(room) if room > 0 and self.channels else []
            for notice in claimed:
                task = asyncio.create_task(self._process(notice))
                inflight.add(task)
                task.add_done_callback(inflight.discard)
            if claimed and len(inflight) < self.settings.concurrency:
                continue
            wait = min(self.settings.idle_poll_seconds, max(0.0, next_poll - loop.time()),
                       max(0.0, next_recover - loop.time()))
            if tick is not None:
                wait = max(0.0, min(wait, next_tick - loop.time()))
            if inflight:
                await asyncio.wait(inflight, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
        if inflight:  # finish what was handed to the provider, so outcomes are recorded
            await asyncio.gather(*inflight, return_exceptions=True)
        if self._poll_task is not None:
            await asyncio.gather(self._poll_task, return_exceptions=True)

    async def _claim_quietly(self, limit: int) -> list[ClaimedNotice]:
        """A claim that failed (the database restarting, a fail-over) claims nothing: the
        next poll tries again. Logged at the first failure of a run of them and every 100th."""
        try:
            claimed = await self._claim(limit)
        except Exception as exc:
            if self._claim_failures % 100 == 0:
                log_event(log, logging.WARNING, "outbox.claim_failed",
                          error=type(exc).__name__, failures=self._claim_failures + 1)
            self._claim_failures += 1
            return []
        self._claim_failures = 0
        return claimed

    async def _recover_quietly(self) -> None:
        try:
            await self.recover(sweep=False)
        except Exception:  # the next pass tries again
            log.exception("outbox: recovering claims failed")

    async def recover(self, *, sweep: bool = True) -> int:
        """Make the claims of processes that are provably gone (crashed, killed) claimable now,
        after the reconcile delay rather than their whole lease; returns how many. `sweep`
        also forgets gone owners that hold nothing (done at start)."""
        if self.owner is None:
            return 0
        await self.owner.keep_alive()
        owners = await outbox.claim_owners(self.core)
        gone = [o for o in owners if await self.owner.gone(o)]
        due = self.clock.now_ms() + int(self.settings.retry.reconcile_delay * 1000)
        released = await outbox.release_claims(self.core, gone, due)
        if sweep or gone:
            self.owner.sweep()
        self.stats.released += released
        if released:
            log_event(log, logging.INFO, "outbox.recovered", claims=released, owners=len(gone))
        return released

    async def _claim(self, limit: int) -> list[ClaimedNotice]:
        now = self.clock.now_ms()
        generation = self.owner.generation if self.owner else 0  # before: a break meanwhile
        claimed = await outbox.claim(self.core, now, limit, self.settings.lease_ms,
                                     self.channels, self.owner.id if self.owner else None)
        self.stats.claimed += len(claimed)
        for notice in claimed:
            self._claimed_in[notice.id] = generation
        return claimed

    async def _still_owner(self, notice: ClaimedNotice) -> bool:
        """False when our liveness broke since the claim (the database dropped our lock
        session: it restarted): a peer may have proved us gone, taken the claim and sent it,
        so sending it here could text the family twice. The claim is left as it is: a peer
        that released it sends it after reconciling, or its lease runs out and it is
        reconciled then."""
        generation = self._claimed_in.get(notice.id)
        if self.owner is None or generation is None:
            return True
        try:
            if await self.owner.unbroken_since(generation):
                return True
        except Exception:  # the database is unreachable: we cannot know
            log.exception("outbox: checking our claim owner failed")
        log_event(log, logging.WARNING, "outbox.claim_left", notice=notice.id)
        return False

    async def aclose(self) -> None:
        """Close the gateways' HTTP sessions (after `run` has returned) and give up our lock."""
        for gateway in (self.sms, self.whatsapp):
            close = getattr(gateway, "aclose", None)  # the recording fakes hold nothing
            if close is not None:
                await close()
        if self.owner is not None:
            await self.owner.close()

    async def drain(self) -> None:
        """Process everything due now (tests and benchmarks; wrap in asyncio.timeout)."""
        self._bucket = self._bucket or TokenBucket(self.settings.rate_per_second)
        while claimed := await self._claim(self.settings.concurrency):
            await asyncio.gather(*(self._process(n) for n in claimed))

    async def _process(self, notice: ClaimedNotice) -> None:
        try:
            await self._process_inner(notice)
        except Exception:  # the lease expires and the notice is reconciled, then retried
            log.exception("outbox: processing a notice failed")
        finally:
            self._claimed_in.pop(notice.id, None)

    async def _process_inner(self, notice: ClaimedNotice) -> None:
        try:
            # WhatsApp sends only the typed slot values into Twilio's approved template.
            values = self.renderer.slot_values(notice.kind, notice.language,
                                               render_slots(notice.slots))
            text = self.renderer.render(notice.kind, notice.language, render_slots(notice.slots))
        except TemplateError:
            await self._final(notice, "failed", "template-error", None)
            return
        if notice.reconcile and await self._reconciled(notice, text):
            return
        if await self._given_up(notice):
            return
        assert self._bucket is not None
        await self._bucket.acquire()
        if not await self._still_owner(notice):  # the wait may have been long
            return
        if notice.channel is Channel.WHATSAPP and self.whatsapp is not None:
            result = await self.whatsapp.send(notice.address, notice.kind, notice.language,
                                              values, self.settings.status_callback_url)
        elif notice.channel is Channel.SMS and self.sms is not None:
            result = await self.sms.send(notice.address, text, self.settings.status_callback_url)
        elif notice.channel is Channel.EMAIL and self.email is not None:
            result = await self.email(notice.address, notice.kind, notice.language.value, text)
        else:
            await self._final(notice, "failed", "channel-unavailable", None)
            return
        await self._record(notice, result)

    async def _given_up(self, notice: ClaimedNotice) -> bool:
        """Settle a notice that must not be sent now: skipped (appointment no longer scheduled,
        number opted out), expired (past its deadline) or failed (the attempt cap)."""
        reason = await outbox.skip_reason(self.core, notice)
        if reason is not None:
            status = "failed" if reason == outbox.OPTED_OUT else "skipped"
            await self._final(notice, status, reason, None)
            return True
        now = self.clock.now_ms()
        if now >= self._deadline(notice):
            await self._final(notice, "expired", self._expiry_reason(notice), None)
            return True
        if notice.attempts >= self.settings.max_attempts:
            await self._final(notice, "failed", "retries-exhausted", None)
            return True
        return False

    def _deadline(self, notice: ClaimedNotice) -> int:
        return deadline_ms(notice.kind, notice.slots, notice.not_before_ms,
                           self.settings.horizon_ms)

    def _expiry_reason(self, notice: ClaimedNotice) -> str:
        horizon_end = notice.not_before_ms + self.settings.horizon_ms
        return "retry-horizon" if self._deadline(notice) >= horizon_end else "appointment-started"

    def _lookup(self, channel: Channel) -> MessageLookup | None:
        """Who can tell what the provider holds for `channel` (e-mail: nobody)."""
        return {Channel.SMS: self.sms, Channel.WHATSAPP: self.whatsapp}.get(channel)

    async def _reconciled(self, notice: ClaimedNotice, text: str) -> bool:
        """Before resending a notice that may exist at the provider, look for it there. True
        when the notice is settled (found, or the lookup failed and it waits again); False when
        nothing was found and it is to be sent."""
        lookup = self._lookup(notice.channel)
        if lookup is None:  # e-mail has no list to ask: resend (at least once, as before)
            return False
        since = datetime.fromtimestamp((notice.first_claim_ms - RECONCILE_SKEW_MS) / 1000, UTC)
        body = text if notice.channel is Channel.SMS else None
        found = await lookup.find(notice.address, body, since)
        now = self.clock.now_ms()
        if isinstance(found, AttemptFailure):
            self.stats.reconciliations["error"] += 1
            retry = self.settings.retry
            delay = backoff(retry.base_delay, retry.max_delay, notice.attempts, self.rand())
            await outbox.settle_retry(
                self.core, notice.id, now + int(max(delay, retry.reconcile_delay) * 1000),
                notice.ambiguous, f"reconcile-{found.kind}", now,
                status=NoticeStatus.AMBIGUOUS, counted=False)
            return True
        verdict = await outbox.settle_reconcile(self.core, notice, found.sids, now)
        self.stats.reconciliations[verdict.value if verdict else "not-found"] += 1
        if verdict is not None:
            log_event(log, logging.WARNING if verdict is NoticeStatus.DUPLICATE_SUSPECTED
                      else logging.INFO, f"notice.{verdict.value}", notice_id=notice.id,
                      found=len(found.sids))
        return verdict is not None

    async def _record(self, notice: ClaimedNotice, result: SendResult) -> None:
        now = self.clock.now_ms()
        self.stats.attempts[_attempt_outcome(result)] += 1
        if isinstance(result, Sent):
            ambiguous = notice.ambiguous + int(result.possible_duplicate)
            await outbox.settle_sent(self.core, notice.id, result.provider_sid, ambiguous, now)
            self.stats.sent += 1
            return
        retry_after = result.after_seconds if isinstance(result, RetryLater) else None
        decision = after_failure(self.settings.retry, result.reason,
                                 attempts=notice.attempts + 1, retry_after=retry_after,
                                 rand=self.rand())
        if isinstance(decision, GiveUp):
            code = result.error_code if isinstance(result, Failed) else None
            await self._final(notice, "failed", str(decision.reason), code,
                              counted=result.attempts > 0)
            return
        # Past the deadline, come back then to expire it (an ambiguous one is reconciled first).
        floor = self.settings.retry.reconcile_delay if decision.ambiguous else 0.0
        next_ms = min(now + int(decision.delay * 1000),
                      max(self._deadline(notice), now + int(floor * 1000)))
        status = NoticeStatus.AMBIGUOUS if decision.ambiguous else NoticeStatus.QUEUED
        await outbox.settle_retry(self.core, notice.id, next_ms,
                                  notice.ambiguous + int(decision.ambiguous), str(result.reason),
                                  now, status=status, counted=decision.counted)
        self.stats.retried += 1

    async def _final(self, notice: ClaimedNotice, status: str, reason: str,
                     error_code: int | None, *, counted: bool = False) -> None:
        # FailureKind.OPTED_OUT (Twilio 21610) is outbox.OPTED_OUT: the number said STOP.
        await outbox.settle_final(self.core, notice, status, reason, error_code,
                                  self.clock.now_ms(), counted=counted)
        if status == "failed":
            self.stats.failed += 1
            log_event(log, logging.WARNING, "notice.failed", notice_id=notice.id, reason=reason)
        elif status == "expired":
            self.stats.expired += 1
            log_event(log, logging.WARNING, "notice.expired", notice_id=notice.id, reason=reason)
        else:
            self.stats.skipped += 1

    # -- status polls ---------------------------------------------------------------------------

    def _poll_every(self) -> float:
        return max(0.05, min(30.0, self.settings.status_poll_after_ms / 2000))

    def _start_poll(self) -> None:
        if self._poll_task is not None and not self._poll_task.done():
            return
        if self.sms is None and self.whatsapp is None:
            return
        self._poll_task = asyncio.create_task(self._poll_quietly(), name="outbox-status-poll")

    async def _poll_quietly(self) -> None:
        try:
            await self.poll_statuses()
        except Exception:  # the next pass tries again
            log.exception("outbox: status poll failed")

    async def poll_statuses(self) -> int:
        """Ask the provider for the status of sent notices that heard nothing for
        `status_poll_after_ms` (their callback was missed); returns how many were asked."""
        now = self.clock.now_ms()
        channels = [c.value for c in (Channel.SMS, Channel.WHATSAPP) if self._lookup(c)]
        rows = await outbox.unconfirmed(self.core, now, self.settings.status_poll_after_ms,
                                        now - POLL_FOR_MS, self.settings.status_poll_batch,
                                        channels)
        for notice_id, channel, sid in rows:
            lookup = self._lookup(Channel(channel))
            answer = await lookup.fetch_status(sid) if lookup is not None else None
            if isinstance(answer, AttemptFailure) or answer is None:
                self.stats.polls["error"] += 1
                status, code = None, None
            else:
                self.stats.polls["answered"] += 1
                status, code = answer.status, answer.error_code
            await outbox.settle_polled(self.core, notice_id, sid, status, code,
                                       self.clock.now_ms())
        return len(rows)
