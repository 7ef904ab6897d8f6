"""The app factory: explicit wiring through AppKeys and cleanup_ctx; no module-level state.

    app = create_app(config)                        # production
    app = create_app(config, clock=FixedClock())    # tests: time and randomness injected

Handlers reach what they need through `services(request)` (web/services.py, built at start-up).
Feature modules add their routes by appending their `setup_routes` to web/routes.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from secure_msg.clock import Clock, SystemClock
from secure_msg.config import Config
from secure_msg.crypto.rng import Rng, system_rng
from secure_msg.web import routes
from secure_msg.web.context import CLOCK, CONFIG, RNG
from secure_msg.web.metrics import Metrics
from secure_msg.web.middleware import (
    BODY_TIMEOUT,
    HSTS,
    METRICS,
    body_timeout_middleware,
    observe_middleware,
    security_headers,
)
from secure_msg.web.openapi import API_REGISTRY, ApiRegistry
from secure_msg.web.problems import problem_middleware
from secure_msg.web.services import services_ctx


def create_app(
    cfg: Config, *, clock: Clock | None = None, rng: Rng | None = None,
    route_setups: Sequence[routes.RouteSetup] | None = None,
) -> web.Application:
    app = web.Application(
        client_max_size=cfg.limits.max_request_bytes,
        middlewares=[observe_middleware, problem_middleware, body_timeout_middleware],
    )
    app[CONFIG] = cfg
    app[CLOCK] = clock or SystemClock()
    app[RNG] = rng or system_rng
    app[METRICS] = Metrics()
    app[HSTS] = cfg.is_https
    app[BODY_TIMEOUT] = float(cfg.server.body_timeout_seconds)
    app[API_REGISTRY] = ApiRegistry()
    app.cleanup_ctx.append(services_ctx)
    app.on_response_prepare.append(security_headers)
    for setup in routes.ROUTE_SETUPS if route_setups is None else route_setups:
        setup(app)
    return app

