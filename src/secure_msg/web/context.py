"""What handlers can reach: app keys and accessors, set up by web/app.py's `create_app`.

    from secure_msg.web import context

    async def handler(request: web.Request) -> web.Response:
        result = await service.do_it(context.db(request), context.clock(request), ...)
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from secure_msg.clock import Clock
from secure_msg.config import Config
from secure_msg.crypto.rng import Rng
from secure_msg.crypto.vault import Vault
from secure_msg.storage.db import Database


@dataclass
class Runtime:
    """What is opened at start-up and closed at shutdown (set inside cleanup_ctx)."""

    database: Database | None = None
    vault: Vault | None = None


CONFIG = web.AppKey("config", Config)
CLOCK = web.AppKey("clock", Clock)
RNG: web.AppKey[Rng] = web.AppKey("rng")
RUNTIME = web.AppKey("runtime", Runtime)


def db(request: web.Request) -> Database:
    return db_of(request.app)


def db_of(app: web.Application) -> Database:
    """The app's database (for tests and background tasks that hold the app, not a request)."""
    database = app[RUNTIME].database
    if database is None:
        raise RuntimeError("database used before start-up")
    return database


def vault(request: web.Request) -> Vault:
    value = request.app[RUNTIME].vault
    if value is None:
        raise RuntimeError("vault used before start-up")
    return value


def config(request: web.Request) -> Config:
    return request.app[CONFIG]


def clock(request: web.Request) -> Clock:
    return request.app[CLOCK]


def rng(request: web.Request) -> Rng:
    return request.app[RNG]
