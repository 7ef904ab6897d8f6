"""The domain services' dependencies, built once at start-up from config and the runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from secure_msg.crypto.verifier import Argon2Params
from secure_msg.services.account_service import AccountDeps
from secure_msg.services.audit_batcher import AuditBatcher
from secure_msg.services.booklet_service import BookletDeps
from secure_msg.services.entry_service import EntryDeps
from secure_msg.services.live import Hub
from secure_msg.services.rate_limit import FailureLimiter
from secure_msg.web.context import CLOCK, CONFIG, RNG, RUNTIME


@dataclass
class Services:
    accounts: AccountDeps
    booklets: BookletDeps
    entries: EntryDeps
    hub: Hub


SERVICES = web.AppKey("services", Services)


async def _services_ctx(app: web.Application) -> AsyncIterator[None]:
    cfg, runtime, clock, rng = app[CONFIG], app[RUNTIME], app[CLOCK], app[RNG]
    assert runtime.database is not None
    assert runtime.vault is not None
    argon = Argon2Params(ops=cfg.argon2.opslimit, mem_bytes=cfg.argon2.memlimit_bytes)
    limiter = FailureLimiter(
        clock, max_failures=cfg.accounts.login_max_failures,
        window_seconds=cfg.accounts.login_window_seconds,
    )
    accounts = AccountDeps(
        runtime.database, runtime.vault, clock, rng, argon, cfg.accounts.session_lifetime_hours,
        limiter,
    )
    booklets = BookletDeps(
        runtime.database, runtime.vault, clock, rng, cfg.accounts.invitation_lifetime_days
    )
    hub = Hub()
    fetch_audit = AuditBatcher(runtime.database)
    app[SERVICES] = Services(
        accounts, booklets, EntryDeps(booklets, hub, cfg.limits.max_entry_bytes, fetch_audit),
        hub,
    )
    yield
    await fetch_audit.close()


def install(app: web.Application) -> None:
    """Called by the route modules that need services; runs after the runtime is opened."""
    if _services_ctx not in app.cleanup_ctx:
        app.cleanup_ctx.append(_services_ctx)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


def services_of(app: web.Application) -> Services:
    return app[SERVICES]
