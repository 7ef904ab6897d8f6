"""Documents shared with someone outside the booklet (docs/protocol.md §4.8, §10.7).

    POST /api/booklets/{booklet_id}/shares                 session: create (sends the SMS code)
    GET  /api/booklets/{booklet_id}/shares                 session: the booklet's shares
    POST /api/booklets/{booklet_id}/shares/{share_id}/revoke   session: withdraw
    POST /api/shares/{share_id}/open                       no account: the sealed record
    POST /api/shares/{share_id}/blob                       no account: the file's ciphertext

The last two take the access token in the JSON body, never in the URL, so it is in no log line.
"""

from __future__ import annotations

from aiohttp import web

from secure_msg.clock import ms_to_iso
from secure_msg.model.shares import Share
from secure_msg.services import share_service
from secure_msg.services.share_service import NewShareRequest, ShareDeps
from secure_msg.web import response_types as out
from secure_msg.web.auth import require_session
from secure_msg.web.blob_response import send_blob
from secure_msg.web.inbox import STATIC_DIR
from secure_msg.web.json_io import b64, path_id, read_body
from secure_msg.web.openapi import BINARY, BINARY_SCHEMA, FILE_STATUSES, add_route
from secure_msg.web.request_types import ShareBody, ShareTokenBody
from secure_msg.web.services import services

_NO_STORE = {"Cache-Control": "no-store"}
SHARE_PAGE = STATIC_DIR / "share" / "index.html"


def _deps(request: web.Request) -> ShareDeps:
    s = services(request)
    return ShareDeps(s.notices, s.blobs.files)


def item_json(s: Share, now_ms: int) -> out.ShareItem:
    return {
        "id": s.id.hex(), "entry_seq": s.entry_seq, "blob_id": s.blob_id.hex(),
        "sharer": s.sharer_id.hex(), "to": s.phone_hint,
        "created_at": ms_to_iso(s.created_at_ms), "expires_at": ms_to_iso(s.expires_at_ms),
        "max_opens": s.max_opens, "opens": s.opens, "failures": s.failures,
        "state": s.state(now_ms).value,
        "revoked_at": ms_to_iso(s.revoked_at_ms) if s.revoked_at_ms is not None else None,
        "revoked_by": s.revoked_by.hex() if s.revoked_by is not None else None,
    }


async def create_share(request: web.Request) -> web.Response:
    session = await require_session(request)
    booklet_id = path_id(request, "booklet_id")
    body = await read_body(request, ShareBody)
    created = await share_service.create(_deps(request), session, booklet_id, NewShareRequest(
        bytes(body.id), body.entry_seq, bytes(body.blob_id), bytes(body.sealed),
        bytes(body.verifier), body.phone, body.code, body.language, body.days, body.max_opens))
    return web.json_response(item_json(created, services(request).clock.now_ms()), status=201)


async def list_shares(request: web.Request) -> web.Response:
    session = await require_session(request)
    booklet_id = path_id(request, "booklet_id")
    found = await share_service.list_shares(_deps(request), session, booklet_id)
    now = services(request).clock.now_ms()
    answer: out.ShareList = {"items": [item_json(s, now) for s in found]}
    return web.json_response(answer)


async def revoke_share(request: web.Request) -> web.Response:
    session = await require_session(request)
    booklet_id = path_id(request, "booklet_id")
    share_id = path_id(request, "share_id")
    revoked = await share_service.revoke(_deps(request), session, booklet_id, share_id)
    return web.json_response(item_json(revoked, services(request).clock.now_ms()))


async def open_share(request: web.Request) -> web.Response:
    share_id = path_id(request, "share_id")
    body = await read_body(request, ShareTokenBody)
    s = await share_service.open_share(_deps(request), share_id, bytes(body.token))
    answer: out.ShareOpened = {"sealed": b64(s.sealed), "expires_at": ms_to_iso(s.expires_at_ms),
                               "opens": s.opens + 1, "max_opens": s.max_opens}
    return web.json_response(answer, headers=_NO_STORE)


async def share_blob(request: web.Request) -> web.StreamResponse:
    share_id = path_id(request, "share_id")
    body = await read_body(request, ShareTokenBody)
    found = await share_service.open_blob(_deps(request), share_id, bytes(body.token))
    return await send_blob(request, found, {
        "Content-Type": BINARY, "Content-Disposition": "attachment",
        "X-Content-Type-Options": "nosniff", **_NO_STORE})


async def share_page(request: web.Request) -> web.FileResponse:
    """The recipient's page: static, the same for every share (its secrets are in the
    fragment, which the browser keeps)."""
    return web.FileResponse(SHARE_PAGE, headers={
        "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache",
        "X-Robots-Tag": "noindex"})


def setup_routes(app: web.Application) -> None:
    t = ["shares"]
    add_route(app, "GET", "/share/", share_page, tags=t,
              summary="The recipient's page of a share link (static; no account)",
              response={"type": "string", "contentMediaType": "text/html"},
              response_type="text/html", also=FILE_STATUSES)
    base = "/api/booklets/{booklet_id}/shares"
    add_route(app, "POST", base, create_share, tags=t, status=201, auth=True, request=ShareBody,
              response=out.ShareItem, errors=(403, 404, 409, 422),
              summary="Share one file of an entry with someone outside the booklet; the "
                      "server sends the code by SMS (therapists and guardians)",
              description="The server stores the sealed record and the token's verifier, "
                          "never the link secret (docs/protocol.md §4.8). 403 share-forbidden "
                          "for a caregiver; 404 for a blob not attached to that entry or not "
                          "readable by the sharer; 409 share-exists; 422 protocol-rejected "
                          "for a sealed record that is none or names another share; 422 "
                          "invalid-phone-number for a number that is not a mobile's.")
    add_route(app, "GET", base, list_shares, tags=t, auth=True, response=out.ShareList,
              summary="The booklet's shares to outsiders, newest first (members)")
    add_route(app, "POST", f"{base}/{{share_id}}/revoke", revoke_share, tags=t, auth=True,
              response=out.ShareItem, errors=(403, 404),
              summary="Withdraw a share (its sharer, a therapist or a guardian)")
    add_route(app, "POST", "/api/shares/{share_id}/open", open_share, tags=t,
              request=ShareTokenBody, response=out.ShareOpened, errors=(403, 404, 410),
              summary="Open a share with the access token (no account); counted",
              description="403 share-code-wrong with attempts_left; after 5 wrong tokens 410 "
                          "share-locked for good. 410 share-expired, share-revoked, share-used.")
    add_route(app, "POST", "/api/shares/{share_id}/blob", share_blob, tags=t,
              request=ShareTokenBody, response=BINARY_SCHEMA, response_type=BINARY,
              errors=(403, 404, 410),
              summary="The shared file's ciphertext, within 15 minutes of an open (no account)")
