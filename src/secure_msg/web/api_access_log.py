"""A booklet's access log for its members, and the record that a member exported it."""

from __future__ import annotations

from aiohttp import web

from secure_msg.clock import ms_to_iso
from secure_msg.model.audit import AuditEvent
from secure_msg.services import access_log
from secure_msg.web import response_types as out
from secure_msg.web.auth import require_session
from secure_msg.web.json_io import b64, path_id, read_body, read_query
from secure_msg.web.openapi import add_route
from secure_msg.web.request_types import AccessLogQuery, ExportBody
from secure_msg.web.services import services


def item_json(e: AuditEvent) -> out.AccessLogItem:
    kind, _, ref = e.actor.partition(":")
    return {
        "seq": e.seq, "at": ms_to_iso(e.at_ms), "at_ms": e.at_ms,
        "actor": ref if kind == "account" else None, "actor_ref": e.actor,
        "action": e.action, "target": e.target, "detail": dict(e.detail),
        "prev_hash": b64(e.prev_hash), "hash": b64(e.hash),
    }


async def get_access_log(request: web.Request) -> web.Response:
    session = await require_session(request)
    booklet_id = path_id(request, "booklet_id")
    query = read_query(request, AccessLogQuery)
    page = await access_log.page(services(request).booklets, session, booklet_id,
                                 cursor=query.cursor, limit=query.limit)
    answer: out.AccessLog = {"items": [item_json(e) for e in page.events],
                             "next_cursor": page.next_cursor}
    return web.json_response(answer)


async def post_export(request: web.Request) -> web.Response:
    session = await require_session(request)
    booklet_id = path_id(request, "booklet_id")
    body = await read_body(request, ExportBody)
    event = await access_log.record_export(services(request).booklets, session, booklet_id,
                                           body.kind, body.entries)
    answer: out.ExportRecorded = {"seq": event.seq, "at": ms_to_iso(event.at_ms)}
    return web.json_response(answer, status=201)


def setup_routes(app: web.Application) -> None:
    t = ["booklets"]
    base = "/api/booklets/{booklet_id}"
    add_route(app, "GET", f"{base}/access-log", get_access_log, tags=t, auth=True,
              summary="The booklet's access log (members): joins, removals, grants, reads, "
                      "exports, newest first",
              description="Events of this booklet from the audit chain, each with its chain "
                          "position and hash. A non-member's refused attempts are not shown "
                          "(they stay in the operator's audit).",
              query=AccessLogQuery, response=out.AccessLog)
    add_route(app, "POST", f"{base}/exports", post_export, tags=t, status=201, auth=True,
              summary="Record that I exported the booklet or its access log",
              request=ExportBody, response=out.ExportRecorded)
