"""Wiring for appointments and notices: their deps, the SMS/e-mail adapters and the outbox
worker (with the scheduler tick), started and stopped in the app's cleanup_ctx."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from secure_msg.channels.email import SmtpEmailSender, SmtpSettings
from secure_msg.channels.outbox import OutboxSettings, OutboxWorker
from secure_msg.channels.sms import TwilioSettings, TwilioSmsGateway
from secure_msg.channels.whatsapp import TemplateKey, WhatsAppGateway
from secure_msg.config import Config
from secure_msg.logging import get_logger
from secure_msg.model.appointments import QuietHours
from secure_msg.model.notice_templates import (
    Language,
    NoticeKind,
    NoticeRenderer,
    default_templates_dir,
)
from secure_msg.services import notice_service, scheduler
from secure_msg.services.appointment_service import AppointmentDeps
from secure_msg.services.live import EntryEvent
from secure_msg.services.notice_service import NoticeDeps
from secure_msg.web import services as services_mod
from secure_msg.web.context import CLOCK, CONFIG, RNG, RUNTIME

log = get_logger(__name__)
STATUS_PATH = "/webhooks/twilio/status"


@dataclass
class NoticesRuntime:
    notices: NoticeDeps
    appointments: AppointmentDeps
    worker: OutboxWorker
    twilio_auth_token: str


NOTICES = web.AppKey("notices", NoticesRuntime)


def twilio_settings(cfg: Config) -> TwilioSettings | None:
    t = cfg.twilio
    if not (t.account_sid and t.auth_token and t.from_number):
        return None
    # Every retry goes back through the outbox (and its rate limit): no waiting inside a send.
    return TwilioSettings(account_sid=t.account_sid, auth_token=t.auth_token.reveal(),
                          from_number=t.from_number, api_base_url=t.api_base_url,
                          max_inline_wait=0.0, max_attempts_per_send=1)


def whatsapp_templates(cfg: Config) -> dict[TemplateKey, str]:
    """[whatsapp.templates] as (kind, language) → ContentSid (keys validated by config.py)."""
    out = {}
    for key, sid in cfg.whatsapp.templates.items():
        kind, _, language = key.partition(".")
        out[(NoticeKind(kind), Language(language))] = sid
    return out


def whatsapp_gateway(cfg: Config, settings: TwilioSettings | None) -> WhatsAppGateway | None:
    """The WhatsApp gateway when enabled and Twilio is configured; None otherwise (a queued
    WhatsApp notice then fails visibly as channel-unavailable)."""
    if not cfg.whatsapp.enabled or settings is None:
        return None
    return WhatsAppGateway(settings, cfg.whatsapp.sender, whatsapp_templates(cfg))


def renderer_for(cfg: Config) -> NoticeRenderer:
    return NoticeRenderer.load(default_templates_dir(),
                               sender_name=cfg.notices.sender_name or None,
                               link_origin=cfg.server.public_base_url)


async def _notices_ctx(app: web.Application) -> AsyncIterator[None]:
    cfg, runtime, clock, rng = app[CONFIG], app[RUNTIME], app[CLOCK], app[RNG]
    assert runtime.database is not None
    assert runtime.vault is not None
    n = cfg.notices
    deps = NoticeDeps(
        runtime.database, runtime.vault, clock, rng, renderer_for(cfg),
        QuietHours.parse(n.timezone, n.quiet_hours_start, n.quiet_hours_end),
        cfg.server.public_base_url, whatsapp_enabled=cfg.whatsapp.enabled,
        email_enabled=cfg.email.enabled, ping_enabled=n.new_entry_ping,
        ping_interval_ms=n.new_entry_ping_minutes * 60_000,
        whatsapp_templates=frozenset(whatsapp_templates(cfg)) if cfg.whatsapp.enabled
        else frozenset(),
    )
    appointments = AppointmentDeps(deps, cfg.appointments.late_cancellation_hours,
                                   cfg.appointments.count_late_cancellations)
    settings = twilio_settings(cfg)
    gateway = TwilioSmsGateway(settings) if settings else None
    whatsapp = whatsapp_gateway(cfg, settings)
    e = cfg.email
    email = SmtpEmailSender(SmtpSettings(e.smtp_host, e.smtp_port, e.from_address, e.starttls,
                                         e.username, e.password.reveal())) if e.enabled else None
    worker = OutboxWorker(
        runtime.database, runtime.vault, clock, deps.renderer,
        OutboxSettings(rate_per_second=n.send_rate_per_second, max_attempts=n.max_attempts,
                       lease_ms=n.claim_lease_seconds * 1000,
                       concurrency=min(64, max(4, n.send_rate_per_second * 2)),
                       status_callback_url=cfg.server.public_base_url + STATUS_PATH),
        sms=gateway, email=email, whatsapp=whatsapp,
    )
    app[NOTICES] = NoticesRuntime(deps, appointments, worker, cfg.twilio.auth_token.reveal())
    _observe_entries(app, deps)
    stop = asyncio.Event()
    lead_ms = n.reminder_lead_hours * 3_600_000
    few = cfg.appointments.period_few_sessions

    async def tick() -> int:
        return await scheduler.run_once(appointments, lead_ms, few)

    task = asyncio.create_task(worker.run(stop, tick, n.scheduler_interval_ms / 1000),
                               name="outbox")
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 15)
        if gateway is not None:
            await gateway.aclose()
        if whatsapp is not None:
            await whatsapp.aclose()


def _observe_entries(app: web.Application, deps: NoticeDeps) -> None:
    """New-entry pings: the hub tells us about each posted entry (ids only, never content)."""
    if not deps.ping_enabled:
        return
    hub = services_mod.services_of(app).hub
    pending: set[asyncio.Task[int]] = set()

    def on_entry(event: EntryEvent, readers: list[bytes]) -> None:
        task = asyncio.ensure_future(notice_service.on_entry_posted(
            deps, event.booklet_id, event.author_id, readers))
        pending.add(task)
        task.add_done_callback(pending.discard)

    hub.observers.append(on_entry)


def install(app: web.Application) -> None:
    services_mod.install(app)
    if _notices_ctx not in app.cleanup_ctx:
        app.cleanup_ctx.append(_notices_ctx)


def runtime(request: web.Request) -> NoticesRuntime:
    return request.app[NOTICES]
