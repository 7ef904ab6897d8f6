"""The one place the service is wired: `Services` is built at start-up from the config, the
clock and the random source, and handlers reach it through `services(request)`.

    async def handler(request: web.Request) -> web.Response:
        result = await booklet_service.create(services(request).booklets, session)

`services_ctx` (web/app.py's cleanup_ctx) opens the keys and the database, builds every
service's dependencies, starts the outbox worker with the scheduler tick, and closes it all in
the reverse order at shutdown. Tests reach the same object as `app[SERVICES]`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web

from secure_msg.channels.claim_owner import ClaimOwner
from secure_msg.channels.email import SmtpEmailSender, SmtpSettings
from secure_msg.channels.inbound import TWIML_REPLIES
from secure_msg.channels.outbox import OutboxSettings, OutboxWorker
from secure_msg.channels.sms import TwilioSettings, TwilioSmsGateway
from secure_msg.channels.sms_retry import OutboxRetry
from secure_msg.channels.whatsapp import TemplateKey, WhatsAppGateway
from secure_msg.clock import Clock
from secure_msg.config import Config
from secure_msg.crypto.rng import Rng
from secure_msg.crypto.vault import Vault
from secure_msg.crypto.verifier import Argon2Params
from secure_msg.logging import get_logger, log_event
from secure_msg.model.appointments import QuietHours
from secure_msg.model.inbound import ReplyFormat
from secure_msg.model.notice_caps import ManualNoticeCap
from secure_msg.model.notice_templates import (
    Language,
    NoticeKind,
    NoticeRenderer,
    default_templates_dir,
)
from secure_msg.server_keys import load_vault
from secure_msg.services import (
    blob_service,
    caregiver_membership,
    live_bus,
    notice_service,
    retention_service,
    scheduler,
)
from secure_msg.services.account_service import AccountDeps
from secure_msg.services.appointment_service import AppointmentDeps
from secure_msg.services.argon2_gate import Argon2Gate
from secure_msg.services.audit_batcher import AuditBatcher
from secure_msg.services.blob_service import BlobDeps, BlobLimits
from secure_msg.services.booklet_service import BookletDeps
from secure_msg.services.client_state_service import ClientStateDeps
from secure_msg.services.entry_service import EntryDeps
from secure_msg.services.inbound_service import InboundLimits
from secure_msg.services.live import EntryEvent, Hub
from secure_msg.services.login_limits import LoginLimits, LoginLimitSettings
from secure_msg.services.notice_service import NoticeDeps
from secure_msg.services.rate_limit import FailureBook
from secure_msg.services.retention_service import RetentionDeps, retention_rule
from secure_msg.services.shared_limits import SharedFailures
from secure_msg.storage.db import Database, open_database
from secure_msg.web import process_roles
from secure_msg.web.context import CLOCK, CONFIG, RNG
from secure_msg.web.metrics import Gauge
from secure_msg.web.middleware import METRICS
from secure_msg.web.outbox_metrics import OutboxCollector
from secure_msg.web.process_roles import SchedulerRole

log = get_logger(__name__)
STATUS_PATH = "/webhooks/twilio/status"


@dataclass
class Services:
    """Everything a handler may call, built once per process."""

    config: Config
    clock: Clock
    rng: Rng
    db: Database
    vault: Vault
    accounts: AccountDeps
    booklets: BookletDeps
    entries: EntryDeps
    blobs: BlobDeps
    client_state: ClientStateDeps
    notices: NoticeDeps
    appointments: AppointmentDeps
    inbound_limits: InboundLimits
    replies: ReplyFormat  # how inbound SMS and calls are answered (TwiML)
    hub: Hub
    worker: OutboxWorker
    retention: RetentionDeps  # closing and the retention tick (services/retention_service.py)
    twilio_auth_token: str = field(repr=False)
    scheduler: SchedulerRole  # runs the tick while this process leads (web/process_roles.py)


SERVICES = web.AppKey("services", Services)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


# -- building ---------------------------------------------------------------------------------


def twilio_settings(cfg: Config) -> TwilioSettings | None:
    t = cfg.twilio
    if not (t.account_sid and t.auth_token and t.from_number):
        return None
    # Every retry goes back through the outbox (its rate limit, and its reconcile before a
    # resend after an ambiguous failure): no waiting and no second attempt inside a send.
    return TwilioSettings(t, request_timeout=cfg.notices.request_timeout_ms / 1000,
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


def _notice_deps(cfg: Config, db: Database, vault: Vault, clock: Clock, rng: Rng) -> NoticeDeps:
    n = cfg.notices
    return NoticeDeps(
        db, vault, clock, rng, renderer_for(cfg),
        QuietHours.parse(n.timezone, n.quiet_hours_start, n.quiet_hours_end),
        cfg.server.public_base_url, whatsapp_enabled=cfg.whatsapp.enabled,
        email_enabled=cfg.email.enabled, ping_enabled=n.new_entry_ping,
        ping_interval_ms=n.new_entry_ping_minutes * 60_000,
        whatsapp_templates=frozenset(whatsapp_templates(cfg)) if cfg.whatsapp.enabled
        else frozenset(),
        manual_cap=ManualNoticeCap(n.manual_notices_per_member_hour,
                                   n.manual_notices_per_member_day),
    )


def outbox_settings(cfg: Config) -> OutboxSettings:
    n = cfg.notices
    return OutboxSettings(
        rate_per_second=n.send_rate_per_second, max_attempts=n.max_attempts,
        lease_ms=n.claim_lease_seconds * 1000,
        concurrency=min(64, max(4, n.send_rate_per_second * 2)),
        status_callback_url=cfg.server.public_base_url + STATUS_PATH,
        retry=OutboxRetry(base_delay=n.retry_base_delay_ms / 1000,
                          max_delay=n.retry_max_delay_ms / 1000,
                          reconcile_delay=n.reconcile_delay_ms / 1000),
        horizon_ms=n.retry_horizon_minutes * 60_000,
        status_poll_after_ms=n.status_poll_after_seconds * 1000,
    )


def _worker(cfg: Config, deps: NoticeDeps, settings: TwilioSettings | None,
            owner: ClaimOwner) -> OutboxWorker:
    e = cfg.email
    email = SmtpEmailSender(SmtpSettings(e.smtp_host, e.smtp_port, e.from_address, e.starttls,
                                         e.username, e.password.reveal())) if e.enabled else None
    return OutboxWorker(
        deps, deps.renderer, outbox_settings(cfg),  # NoticeDeps is the outbox's Core
        sms=TwilioSmsGateway(settings) if settings else None, email=email,
        whatsapp=whatsapp_gateway(cfg, settings), owner=owner,
    )


def _account_deps(cfg: Config, db: Database, vault: Vault, clock: Clock, rng: Rng,
                  hub: Hub, book: FailureBook) -> AccountDeps:
    a = cfg.accounts
    limits = LoginLimits(book, LoginLimitSettings(
        per_name_and_client=a.login_max_failures, per_name=a.login_name_max_failures,
        per_client=a.client_max_failures, window_seconds=a.login_window_seconds))
    return AccountDeps(
        db, vault, clock, rng, Argon2Params(ops=cfg.argon2.opslimit,
                                            mem_bytes=cfg.argon2.memlimit_bytes),
        a.session_lifetime_hours, limits,
        Argon2Gate(max_running=a.argon2_max_running, max_queued=a.argon2_max_queued), hub)


def _blob_deps(cfg: Config, db: Database, clock: Clock, rng: Rng,
               fetch_audit: AuditBatcher) -> BlobDeps:
    b = cfg.blobs
    limits = BlobLimits(b.max_blob_bytes, b.booklet_quota_bytes, b.pending_minutes * 60_000,
                        b.max_per_entry)
    store = blob_service.make_store(cfg.storage, clock, b.path(cfg.storage.database_path),
                                    b.upload_timeout_seconds)
    return blob_service.make_deps(db, clock, rng, store, limits, fetch_audit)


def build(cfg: Config, db: Database, vault: Vault, clock: Clock, rng: Rng,
          owner: ClaimOwner, scheduler: SchedulerRole) -> Services:
    hub = Hub()
    # Failed attempts in the database: shared by every process, kept across restarts.
    book = SharedFailures(db, clock, vault)
    accounts = _account_deps(cfg, db, vault, clock, rng, hub, book)
    booklets = BookletDeps(db, vault, clock, rng, cfg.accounts.invitation_lifetime_days, hub)
    notices = _notice_deps(cfg, db, vault, clock, rng)
    fetch_audit = AuditBatcher(db)
    blobs = _blob_deps(cfg, db, clock, rng, fetch_audit)
    return Services(
        config=cfg, clock=clock, rng=rng, db=db, vault=vault, accounts=accounts, booklets=booklets,
        entries=EntryDeps(booklets, hub, cfg.limits.max_entry_bytes, fetch_audit,
                          cfg.blobs.max_per_entry, requests=notices),
        blobs=blobs,
        client_state=ClientStateDeps(db, vault, clock, rng, cfg.limits.client_state_bytes),
        notices=notices,
        appointments=AppointmentDeps(notices, cfg.appointments.late_cancellation_hours,
                                     cfg.appointments.count_late_cancellations, hub),
        inbound_limits=InboundLimits(book), replies=TWIML_REPLIES, hub=hub,
        worker=_worker(cfg, notices, twilio_settings(cfg), owner), scheduler=scheduler,
        retention=RetentionDeps(notices, retention_rule(cfg.retention), hub=hub,
                                blobs=functools.partial(blob_service.delete_booklet, blobs)),
        twilio_auth_token=cfg.twilio.auth_token.reveal(),
    )


def _observe_entries(s: Services) -> None:
    """New-entry pings: the hub tells us about each posted entry (ids only, never content)."""
    if not s.notices.ping_enabled:
        return
    pending: set[asyncio.Task[int]] = set()

    def on_entry(event: EntryEvent, readers: list[bytes]) -> None:
        task = asyncio.ensure_future(notice_service.on_entry_posted(
            s.notices, event.booklet_id, event.author_id, readers))
        pending.add(task)
        task.add_done_callback(pending.discard)

    s.hub.observers.append(on_entry)


def _register_metrics(app: web.Application, db: Database) -> None:
    app[METRICS].register(Gauge(
        "secure_msg_db_commits_total", "Group commits done by the writer (a counter).",
        lambda: db.stats.commits))
    app[METRICS].register(Gauge(
        "secure_msg_db_write_jobs_total", "Write functions run by the writer (a counter).",
        lambda: db.stats.jobs))


def _register_outbox_metrics(app: web.Application, s: Services) -> None:
    collector = OutboxCollector(s.notices, s.worker.stats)  # NoticeDeps is the outbox's Core
    app[METRICS].register_collector(collector, collector.refresh)


def _register_argon2_metrics(app: web.Application, gate: Argon2Gate) -> None:
    stats = gate.stats
    app[METRICS].register(Gauge(
        "secure_msg_argon2_verifications_total",
        "Argon2id checks of an auth or recovery key (a counter).", lambda: stats.verifications))
    app[METRICS].register(Gauge(
        "secure_msg_argon2_refused_total",
        "Argon2id work refused with 503 because too much was running (a counter).",
        lambda: stats.refused))
    app[METRICS].register(Gauge(
        "secure_msg_argon2_in_use", "Argon2id computations running or waiting now.",
        lambda: gate.in_use))


def _register_live_bus_metrics(app: web.Application, bus: live_bus.LiveBus) -> None:
    """PostgreSQL: what this process relayed to the others and took from them (counters)."""
    assert bus.channel is not None
    stats = bus.channel.stats
    for name, help_text, read in (
        ("relayed", "Live events sent to the other processes (payloads the database took).",
         lambda: stats.sent),
        ("relay_dropped", "Live events not relayed: the database could not be reached.",
         lambda: stats.dropped),
        ("applied", "Live events of other processes applied to this one's sockets.",
         lambda: bus.applied),
        ("rejected", "Live payloads refused: did not open, too old, replayed or malformed.",
         lambda: bus.rejected),
        ("listener_reconnects", "Times the live listener connected again after losing its "
         "connection.", lambda: stats.reconnects),
    ):
        app[METRICS].register(Gauge(f"secure_msg_live_bus_{name}_total",
                                    f"{help_text} (a counter)", read))


async def services_ctx(app: web.Application) -> AsyncIterator[None]:
    cfg, clock, rng = app[CONFIG], app[CLOCK], app[RNG]
    vault = load_vault(cfg.storage.keys_dir, rng)  # fails early, naming the file
    db = await open_database(cfg.storage)
    try:
        _register_metrics(app, db)
        owner, scheduler_role = await process_roles.open_roles(cfg, db)
        s = app[SERVICES] = build(cfg, db, vault, clock, rng, owner, scheduler_role)
        process_roles.register_metrics(app, scheduler_role)
        _register_argon2_metrics(app, s.accounts.gate)
        _register_outbox_metrics(app, s)
        _observe_entries(s)
        orphans = await blob_service.start(s.blobs)
        if orphans:
            log_event(log, logging.WARNING, "blobs.orphans_removed", count=orphans)
        # On PostgreSQL the hub's fan-outs reach the other processes' sockets too.
        bus = await live_bus.start(s.hub, db, cfg.storage.backend, vault)
        if bus is not None:
            _register_live_bus_metrics(app, bus)
        try:
            async with _running(s):
                yield
        finally:
            if bus is not None:
                await bus.aclose()
    finally:
        if SERVICES in app:
            await app[SERVICES].blobs.files.close()
        await db.close()


@contextlib.asynccontextmanager
async def _running(s: Services) -> AsyncIterator[None]:
    """The outbox worker (with the scheduler tick) and the audit batcher, for the app's life."""
    cfg = s.config
    stop = asyncio.Event()
    lead_ms = cfg.notices.reminder_lead_hours * 3_600_000
    few = cfg.appointments.period_few_sessions

    @s.scheduler.led  # one process of the database runs it (web/process_roles.py)
    async def tick() -> int:
        # Caregivers whose time is up stop being members even if nobody reads meanwhile.
        await caregiver_membership.expire_if_due(s.booklets, s.booklets.hub)
        try:
            queued = await scheduler.run_once(s.appointments, lead_ms, few)
            return queued + (await retention_service.tick(s.retention)).reminded
        finally:  # uploads no entry listed in time: deleted whatever the notices did
            await blob_service.sweep_pending(s.blobs)

    task = asyncio.create_task(
        s.worker.run(stop, tick, cfg.notices.scheduler_interval_ms / 1000), name="outbox")
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 15)
        await s.worker.aclose()
        await s.scheduler.leader.close()
        await s.entries.fetch_audit.close()
