"""The durable outbox worker: claims due notices, sends them, records what happened.

Durability (invariant 5): a notice exists as a committed row before anyone is told it is queued.
The worker claims rows with a lease (`claimed_until_ms`) in one transaction, sends, then records
the outcome. If the process dies in between, the lease expires and the row is claimed again, so
nothing is lost; the repeat may duplicate at most one SMS per crash and is counted (`ambiguous`).
Retries are ours (channels/sms_retry.py): 429 after Retry-After, 5xx/timeouts with backoff up to
`max_ambiguous_attempts`, then `failed`, which therapists see. A token bucket holds the send rate
to `rate_per_second` for the one sending number.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from secure_msg.channels.sms import Failed, SendResult, Sent, SmsGateway
from secure_msg.channels.sms_retry import (
    AttemptFailure,
    GiveUp,
    RetryPolicy,
    decide,
)
from secure_msg.channels.whatsapp import WhatsAppSender
from secure_msg.logging import get_logger, log_event
from secure_msg.model.channel_policy import Channel
from secure_msg.model.notice_templates import NoticeKind, NoticeRenderer, TemplateError
from secure_msg.model.notices import ClaimedNotice, render_slots
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
    max_attempts: int = 8
    lease_ms: int = 60_000
    concurrency: int = 32
    idle_poll_seconds: float = 0.1
    status_callback_url: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass
class OutboxStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0


class OutboxWorker:
    def __init__(
        self, core: Core, renderer: NoticeRenderer,
        settings: OutboxSettings, *, sms: SmsGateway | None = None, email: EmailSend | None = None,
        whatsapp: WhatsAppSender | None = None, rand: Callable[[], float] = random.random,
    ) -> None:
        self.core, self.clock, self.renderer = core, core.clock, renderer
        self.settings = settings
        self.sms, self.email, self.whatsapp = sms, email, whatsapp
        self.rand = rand
        self.stats = OutboxStats()
        self._bucket: TokenBucket | None = None
        self.channels = [c.value for c, on in ((Channel.SMS, sms), (Channel.EMAIL, email),
                                               (Channel.WHATSAPP, whatsapp)) if on]

    async def run(self, stop: asyncio.Event,
                  tick: Callable[[], Awaitable[object]] | None = None,
                  tick_seconds: float = 30.0) -> None:
        """Send until `stop` is set; call `tick` (the scheduler) every `tick_seconds`."""
        self._bucket = TokenBucket(self.settings.rate_per_second)
        inflight: set[asyncio.Task[None]] = set()
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        while not stop.is_set():
            if tick is not None and loop.time() >= next_tick:
                next_tick = loop.time() + tick_seconds
                try:
                    await tick()
                except Exception:  # a bad tick must not stop sending
                    log.exception("scheduler tick failed")
            room = self.settings.concurrency - len(inflight)
            claimed = await self._claim(room) if room > 0 and self.channels else []
            for notice in claimed:
                task = asyncio.create_task(self._process(notice))
                inflight.add(task)
                task.add_done_callback(inflight.discard)
            if claimed and len(inflight) < self.settings.concurrency:
                continue
            wait = self.settings.idle_poll_seconds
            if tick is not None:
                wait = max(0.0, min(wait, next_tick - loop.time()))
            if inflight:
                await asyncio.wait(inflight, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
        if inflight:  # finish what was handed to the provider, so outcomes are recorded
            await asyncio.gather(*inflight, return_exceptions=True)

    async def _claim(self, limit: int) -> list[ClaimedNotice]:
        now = self.clock.now_ms()
        claimed = await outbox.claim(self.core, now, limit, self.settings.lease_ms,
                                     self.channels)
        self.stats.claimed += len(claimed)
        return claimed

    async def aclose(self) -> None:
        """Close the gateways' HTTP sessions (after `run` has returned)."""
        for gateway in (self.sms, self.whatsapp):
            close = getattr(gateway, "aclose", None)  # the recording fakes hold nothing
            if close is not None:
                await close()

    async def drain(self) -> None:
        """Process everything due now (tests and benchmarks; wrap in asyncio.timeout)."""
        self._bucket = self._bucket or TokenBucket(self.settings.rate_per_second)
        while claimed := await self._claim(self.settings.concurrency):
            await asyncio.gather(*(self._process(n) for n in claimed))

    async def _process(self, notice: ClaimedNotice) -> None:
        try:
            await self._process_inner(notice)
        except Exception:  # the lease expires and the notice is retried
            log.exception("outbox: processing a notice failed")

    async def _process_inner(self, notice: ClaimedNotice) -> None:
        reason = await outbox.skip_reason(self.core, notice)
        if reason is not None:
            status = "failed" if reason == outbox.OPTED_OUT else "skipped"
            await self._final(notice, status, reason, None)
            return
        try:
            # WhatsApp sends only the typed slot values into Twilio's approved template.
            values = self.renderer.slot_values(notice.kind, notice.language,
                                               render_slots(notice.slots))
            text = self.renderer.render(notice.kind, notice.language, render_slots(notice.slots))
        except TemplateError:
            await self._final(notice, "failed", "template-error", None)
            return
        assert self._bucket is not None
        await self._bucket.acquire()
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

    async def _record(self, notice: ClaimedNotice, result: SendResult) -> None:
        now = self.clock.now_ms()
        nid = notice.id
        if isinstance(result, Sent):
            ambiguous = notice.ambiguous + int(result.possible_duplicate)
            await outbox.settle_sent(self.core, nid, result.provider_sid, ambiguous, now)
            self.stats.sent += 1
            return
        if isinstance(result, Failed):
            await self._final(notice, "failed", str(result.reason), result.error_code)
            return
        ambiguous = notice.ambiguous + int(result.reason.ambiguous)
        delay: float = result.after_seconds
        if result.reason.ambiguous:
            decision = decide(self.settings.retry, AttemptFailure(result.reason),
                              ambiguous_failures=ambiguous, rand=self.rand())
            if isinstance(decision, GiveUp):
                await self._final(notice, "failed", str(result.reason), None)
                return
            delay = decision.delay
        if notice.attempts >= self.settings.max_attempts:
            await self._final(notice, "failed", "retries-exhausted", None)
            return
        next_ms = now + int(delay * 1000)
        await outbox.settle_retry(self.core, nid, next_ms, ambiguous, str(result.reason), now)
        self.stats.retried += 1

    async def _final(self, notice: ClaimedNotice, status: str, reason: str,
                     error_code: int | None) -> None:
        # FailureKind.OPTED_OUT (Twilio 21610) is outbox.OPTED_OUT: the number said STOP.
        await outbox.settle_final(self.core, notice, status, reason, error_code,
                                  self.clock.now_ms())
        if status == "failed":
            self.stats.failed += 1
            log_event(log, logging.WARNING, "notice.failed", notice_id=notice.id, reason=reason)
        else:
            self.stats.skipped += 1
