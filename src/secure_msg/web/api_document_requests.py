"""Document requests: a guardian asks, members see a booklet's requests, the therapist sees her
caseload's open ones (thin handlers; services/document_request_service.py). Fulfilling is the
`fulfils_request` field of the entry post (web/api_booklets.py)."""

from __future__ import annotations

from aiohttp import web

from secure_msg.clock import ms_to_iso
from secure_msg.model.document_requests import DocumentRequest
from secure_msg.services import document_request_service as service
from secure_msg.web import response_types as out
from secure_msg.web.auth import require_session
from secure_msg.web.json_io import path_id, read_body, read_query
from secure_msg.web.openapi import add_route
from secure_msg.web.request_types import (
    DocumentRequestBody,
    DocumentRequestPatch,
    DocumentRequestsQuery,
)
from secure_msg.web.services import services


def request_json(r: DocumentRequest) -> out.DocumentRequest:
    return {"id": r.id.hex(), "booklet_id": r.booklet_id.hex(),
            "requester_id": r.requester_id.hex(), "kind": r.kind.value,
            "status": r.status.value, "created_at": ms_to_iso(r.created_at_ms),
            "due": r.due.isoformat() if r.due else None, "done_by_seq": r.done_by_entry_seq,
            "closed_by": r.closed_by.hex() if r.closed_by else None,
            "closed_at": ms_to_iso(r.closed_at_ms) if r.closed_at_ms is not None else None}


def _list(rows: list[DocumentRequest]) -> web.Response:
    answer: out.DocumentRequests = {"requests": [request_json(r) for r in rows]}
    return web.json_response(answer)


async def create(request: web.Request) -> web.Response:
    session = await require_session(request)
    body = await read_body(request, DocumentRequestBody)
    row = await service.create(services(request).notices, session,
                               path_id(request, "booklet_id"), body.kind, body.due)
    return web.json_response(request_json(row), status=201)


async def list_booklet(request: web.Request) -> web.Response:
    session = await require_session(request)
    everything = read_query(request, DocumentRequestsQuery).all == "1"
    return _list(await service.list_for_booklet(
        services(request).notices, session, path_id(request, "booklet_id"),
        open_only=not everything))


async def patch(request: web.Request) -> web.Response:
    session = await require_session(request)
    body = await read_body(request, DocumentRequestPatch)
    row = await service.set_due(services(request).notices, session,
                                path_id(request, "booklet_id"), path_id(request, "request_id"),
                                body.due)
    return web.json_response(request_json(row))


async def withdraw(request: web.Request) -> web.Response:
    session = await require_session(request)
    row = await service.withdraw(services(request).notices, session,
                                 path_id(request, "booklet_id"), path_id(request, "request_id"))
    return web.json_response(request_json(row))


async def caseload(request: web.Request) -> web.Response:
    session = await require_session(request)
    return _list(await service.list_for_therapist(services(request).notices, session))


def setup_routes(app: web.Application) -> None:
    t = ["document requests"]
    b = "/api/booklets/{booklet_id}/document-requests"
    r = f"{b}/{{request_id}}"
    add_route(app, "POST", b, create, tags=t, status=201, auth=True,
              summary="Ask the therapist for a document (guardians)",
              description="kind: statement, plan or other (say which in an ordinary entry). "
                          "Not a guardian: 403; a closed booklet: 409 booklet-closed; "
                          "10 open already: 409 too-many-open-requests.",
              request=DocumentRequestBody, response=out.DocumentRequest, errors=(403, 409))
    add_route(app, "GET", b, list_booklet, tags=t, auth=True,
              summary="The booklet's open document requests (?all=1: every one)",
              query=DocumentRequestsQuery, response=out.DocumentRequests)
    add_route(app, "PATCH", r, patch, tags=t, auth=True,
              summary="Change an open request's due day (guardians)",
              request=DocumentRequestPatch, response=out.DocumentRequest, errors=(403, 409))
    add_route(app, "POST", f"{r}/withdraw", withdraw, tags=t, auth=True,
              summary="Withdraw an open request (a guardian or the therapist)",
              description="Done or withdrawn already: 409 document-request-not-open.",
              response=out.DocumentRequest, errors=(403, 409))
    add_route(app, "GET", "/api/me/document-requests", caseload, tags=t, auth=True,
              summary="Open document requests of every booklet I am the therapist of (a desk)",
              response=out.DocumentRequests, errors=(403,))
