"""Closing a booklet, where it stands, and deleting one's account (thin handlers)."""

from __future__ import annotations

from aiohttp import web

from secure_msg.clock import ms_to_iso
from secure_msg.model.booklet_lifecycle import Lifecycle
from secure_msg.services import account_deletion, retention_service
from secure_msg.web import client_address
from secure_msg.web import response_types as out
from secure_msg.web.auth import require_session
from secure_msg.web.json_io import path_id, read_body
from secure_msg.web.openapi import add_route
from secure_msg.web.request_types import AccountDeleteBody
from secure_msg.web.services import services


def _iso(ms: int | None) -> str | None:
    return ms_to_iso(ms) if ms is not None else None


def lifecycle_json(row: Lifecycle) -> out.Lifecycle:
    return {"booklet_id": row.booklet_id.hex(), "status": row.status.value,
            "closed_at": _iso(row.closed_at_ms), "purge_after": _iso(row.purge_after_ms),
            "reminded_at": _iso(row.reminded_at_ms)}


async def close_booklet(request: web.Request) -> web.Response:
    session = await require_session(request)
    row = await retention_service.close(services(request).retention, session,
                                        path_id(request, "booklet_id"))
    return web.json_response(lifecycle_json(row))


async def get_lifecycle(request: web.Request) -> web.Response:
    session = await require_session(request)
    row = await retention_service.lifecycle(services(request).retention, session,
                                            path_id(request, "booklet_id"))
    return web.json_response(lifecycle_json(row))


async def delete_account(request: web.Request) -> web.Response:
    session = await require_session(request)
    body = await read_body(request, AccountDeleteBody)
    await account_deletion.delete_account(
        services(request).accounts, session, body.current_auth_key,
        client=client_address.of_request(request))
    return web.Response(status=204)


def setup_routes(app: web.Application) -> None:
    base = "/api/booklets/{booklet_id}"
    add_route(app, "POST", f"{base}/close", close_booklet, tags=["booklets"], auth=True,
              summary="Close the booklet at the end of therapy (its therapist): read-only, "
                      "appointments and reminders stop, purged after the retention period",
              response=out.Lifecycle, errors=(403, 409))
    add_route(app, "GET", f"{base}/lifecycle", get_lifecycle, tags=["booklets"], auth=True,
              summary="Open or closed, and when a closed booklet will be deleted",
              response=out.Lifecycle)
    add_route(app, "DELETE", "/api/me", delete_account, tags=["accounts"], status=204,
              auth=True, summary="Delete my account (no booklets left): personal data erased; "
                                 "proven by the current password's auth key",
              request=AccountDeleteBody, errors=(401, 403, 409, 429, 503))
