"""Every route module of the app, in one list: add yours here.

A route module exposes `setup_routes(app)` that registers each route with
`secure_msg.web.openapi.add_route` (so it is documented in /api/openapi.json).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from secure_msg.web import (
    api_access_log,
    api_accounts,
    api_admin,
    api_appointments,
    api_blobs,
    api_booklets,
    api_caseload,
    api_client_state,
    api_consent,
    api_document_requests,
    api_lifecycle,
    api_notice_retry,
    api_roster,
    api_shares,
    inbox,
    live,
    ops,
    webhooks_twilio,
)

RouteSetup = Callable[[web.Application], None]

ROUTE_SETUPS: tuple[RouteSetup, ...] = (
    ops.setup_routes,
    api_accounts.setup_routes,
    api_client_state.setup_routes,
    api_booklets.setup_routes,
    api_roster.setup_routes,
    api_consent.setup_routes,
    api_access_log.setup_routes,
    api_blobs.setup_routes,
    api_document_requests.setup_routes,
    api_shares.setup_routes,
    live.setup_routes,
    api_appointments.setup_routes,
    api_caseload.setup_routes,
    api_admin.setup_routes,
    api_notice_retry.setup_routes,
    api_lifecycle.setup_routes,
    webhooks_twilio.setup_routes,
    inbox.setup_routes,
)
