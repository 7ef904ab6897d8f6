"""Booklets, members, invitations into a booklet, history grants, entries and receipts."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from secure_msg.clock import ms_to_iso
from secure_msg.crypto.safety import fingerprint
from secure_msg.errors import ValidationFailed
from secure_msg.model.booklets import Member
from secure_msg.model.entry_json import page_json
from secure_msg.model.invitations import InvitationRequest
from secure_msg.model.notice_templates import Language
from secure_msg.model.roles import Role
from secure_msg.services import booklet_service, entry_service, member_invitation, notice_service
from secure_msg.web.api_accounts import B64, HEX_ID
from secure_msg.web.auth import require_session, session_check
from secure_msg.web.json_io import (
    b64,
    get_bytes,
    get_int,
    get_str,
    json_body,
    path_id,
    query_int,
    req_str,
)
from secure_msg.web.openapi import add_route
from secure_msg.web.services import services

ENTRY = {"type": "object", "properties": {
    "seq": {"type": "integer"}, "entry_id": HEX_ID, "author_id": HEX_ID,
    "kind": {"type": "integer"}, "created_at": {"type": "string"},
    "received_at": {"type": "string"}, "entry_hash": B64, "envelope": B64}}


def member_json(m: Member) -> dict[str, Any]:
    return {
        "account_id": m.account_id.hex(), "role": m.role.value, "name": m.name,
        "key_statement": b64(m.key_statement), "fingerprint": fingerprint(m.identity_key),
        "joined_at": ms_to_iso(m.joined_at_ms), "joined_seq": m.joined_seq,
        "removed": not m.current,
    }


async def create_booklet(request: web.Request) -> web.Response:
    session = await require_session(request)
    booklet_id = await booklet_service.create(services(request).booklets, session)
    return web.json_response({"id": booklet_id.hex()}, status=201)


async def list_booklets(request: web.Request) -> web.Response:
    session = await require_session(request)
    rows = await booklet_service.list_mine(services(request).booklets, session)
    return web.json_response({"booklets": [{
        "id": r.id.hex(), "role": r.role.value, "last_seq": r.last_seq, "read_seq": r.read_seq,
        "unread": r.unread, "member_count": r.member_count,
        "title_envelope": b64(r.title_envelope) if r.title_envelope else None,
    } for r in rows]})


async def list_members(request: web.Request) -> web.Response:
    session = await require_session(request)
    rows = await booklet_service.members(
        services(request).booklets, session, path_id(request, "booklet_id"),
        include_removed=request.query.get("all") == "1",
    )
    return web.json_response({"members": [member_json(m) for m in rows]})


async def invite_member(request: web.Request) -> web.Response:
    session = await require_session(request)
    body = await json_body(request)
    role = req_str(body, "role", max_len=20)
    if role not in (Role.GUARDIAN.value, Role.CAREGIVER.value):
        raise ValidationFailed("role must be guardian or caregiver", errors=[{"field": "role"}])
    request_ = InvitationRequest(
        Role(role), get_str(body, "name", max_len=100, optional=True),
        get_str(body, "phone", max_len=32, optional=True),
        get_str(body, "email", max_len=254, optional=True),
    )
    send_raw = body.get("send", [])
    if not isinstance(send_raw, list) or not all(isinstance(v, str) for v in send_raw):
        raise ValidationFailed("send must be a list of channels", errors=[{"field": "send"}])
    send = notice_service.parse_send(send_raw)
    language_raw = get_str(body, "language", max_len=2, optional=True) or Language.FI.value
    if language_raw not in {lang.value for lang in Language}:
        raise ValidationFailed("language must be fi, sv or en", errors=[{"field": "language"}])
    s = services(request)
    issued, queued = await member_invitation.invite(
        s.booklets, s.notices, session, path_id(request, "booklet_id"), request_, send,
        Language(language_raw))
    base = s.config.server.public_base_url
    return web.json_response({
        "id": issued.invitation.id, "link": issued.link(base),
        "expires_at": ms_to_iso(issued.invitation.expires_at_ms), "queued": queued,
    }, status=201)


async def remove_member(request: web.Request) -> web.Response:
    session = await require_session(request)
    await booklet_service.remove(
        services(request).booklets, session, path_id(request, "booklet_id"),
        path_id(request, "account_id"),
    )
    return web.Response(status=204)


async def post_grant(request: web.Request) -> web.Response:
    session = await require_session(request)
    body = await json_body(request)
    count = await booklet_service.grant_history(
        services(request).booklets, session, path_id(request, "booklet_id"),
        get_bytes(body, "grant", max_len=services(request).config.limits.max_request_bytes),
    )
    return web.json_response({"entries": count}, status=201)


async def list_grants(request: web.Request) -> web.Response:
    session = await require_session(request)
    rows = await booklet_service.my_grants(
        services(request).booklets, session, path_id(request, "booklet_id")
    )
    return web.json_response(
        {"grants": [{"granter_id": g.hex(), "grant": b64(blob)} for g, blob in rows]}
    )


async def head(request: web.Request) -> web.Response:
    session = await require_session(request)
    seq, last_hash, version = await entry_service.head(
        services(request).entries, session, path_id(request, "booklet_id")
    )
    return web.json_response(
        {"last_seq": seq, "last_hash": b64(last_hash), "members_version": version}
    )


async def post_entry(request: web.Request) -> web.Response:
    # The token is checked in the same read transaction as membership and the chain head
    # (entry_service.post); a malformed request still gets 401 first when the token is bad.
    check = session_check(request)
    entries = services(request).entries
    try:
        booklet_id = path_id(request, "booklet_id")
        body = await json_body(request)
        envelope = get_bytes(body, "envelope", max_len=entries.max_entry_bytes + 1)
    except Exception:
        await require_session(request)
        raise
    posted = await entry_service.post(entries, check, booklet_id, envelope)
    return web.json_response({
        "seq": posted.seq, "entry_id": posted.entry_id.hex(),
        "entry_hash": b64(posted.entry_hash),
    }, status=201)


async def list_entries(request: web.Request) -> web.Response:
    # Authentication runs inside entry_service.read's transaction: one round trip per page.
    check = session_check(request)
    try:
        booklet_id = path_id(request, "booklet_id")
        after = query_int(request, "since", 0) or 0
        before = query_int(request, "before", None)
        limit = query_int(request, "limit", 50) or 50
    except Exception:
        await require_session(request)  # a bad token is answered 401 before a bad query
        raise
    page, head_seq = await entry_service.read(
        services(request).entries, check, booklet_id, after=after, before=before, limit=limit,
    )
    return web.json_response(text=page_json([text for _, text in page], head_seq))


async def mark_read(request: web.Request) -> web.Response:
    session = await require_session(request)
    body = await json_body(request)
    stored = await booklet_service.mark_read(
        services(request).booklets, session, path_id(request, "booklet_id"),
        get_int(body, "read_seq"),
    )
    return web.json_response({"read_seq": stored})


async def list_receipts(request: web.Request) -> web.Response:
    session = await require_session(request)
    rows = await booklet_service.receipts(
        services(request).booklets, session, path_id(request, "booklet_id")
    )
    return web.json_response({"receipts": [
        {"account_id": r.account_id.hex(), "read_seq": r.read_seq,
         "read_at": ms_to_iso(r.read_at_ms)} for r in rows]})


def setup_routes(app: web.Application) -> None:
    t = ["booklets"]
    base = "/api/booklets/{booklet_id}"
    obj: dict[str, Any] = {"type": "object"}
    add_route(app, "POST", "/api/booklets", create_booklet, tags=t, status=201, auth=True,
              summary="Open a booklet (therapists); its title is the first entry",
              response=obj, errors=(401, 403))
    add_route(app, "GET", "/api/booklets", list_booklets, tags=t, auth=True,
              summary="My booklets with unread counts and the newest title envelope",
              response=obj, errors=(401,))
    add_route(app, "GET", f"{base}/members", list_members, tags=t, auth=True,
              summary="Members with roles, key statements, fingerprints (?all=1: former too)",
              response=obj, errors=(401, 404))
    add_route(app, "POST", f"{base}/invitations", invite_member, tags=t, status=201, auth=True,
              summary="Invite a guardian or caregiver (therapist); returns a one-time link, "
                      "optionally sent to them by SMS and/or e-mail (send)",
              request={"type": "object", "required": ["role"], "properties": {
                  "role": {"enum": ["guardian", "caregiver"]}, "name": {"type": "string"},
                  "phone": {"type": "string"}, "email": {"type": "string"},
                  "language": {"enum": ["fi", "sv", "en"]},
                  "send": {"type": "array", "items": {"enum": ["sms", "email"]}}}},
              response=obj, errors=(400, 401, 403, 404, 415, 422))
    add_route(app, "DELETE", f"{base}/members/{{account_id}}", remove_member, tags=t,
              status=204, auth=True, summary="Remove a member (therapist) or leave (yourself)",
              errors=(401, 403, 404))
    add_route(app, "POST", f"{base}/grants", post_grant, tags=t, status=201, auth=True,
              summary="Share earlier entries with a member by a signed history grant",
              request={"type": "object", "properties": {"grant": B64}}, response=obj,
              errors=(400, 401, 403, 404, 409, 415, 422))
    add_route(app, "GET", f"{base}/grants", list_grants, tags=t, auth=True,
              summary="History grants made to me", response=obj, errors=(401, 404))
    add_route(app, "GET", f"{base}/head", head, tags=t, auth=True,
              summary="The chain head to seal the next entry against", response=obj,
              errors=(401, 404))
    add_route(app, "POST", f"{base}/entries", post_entry, tags=t, status=201, auth=True,
              summary="Post a sealed, signed entry envelope",
              request={"type": "object", "required": ["envelope"],
                       "properties": {"envelope": B64}},
              response=obj, errors=(400, 401, 403, 404, 409, 413, 415, 422))
    add_route(app, "GET", f"{base}/entries", list_entries, tags=t, auth=True,
              summary="Entries I hold keys for: ?since=SEQ ascending or ?before=SEQ newest",
              response={"type": "object", "properties": {"entries": {"type": "array",
                                                                     "items": ENTRY}}},
              errors=(401, 404, 422))
    add_route(app, "POST", f"{base}/receipts", mark_read, tags=t, auth=True,
              summary="Mark entries up to read_seq as read",
              request={"type": "object", "properties": {"read_seq": {"type": "integer"}}},
              response=obj, errors=(400, 401, 404, 415, 422))
    add_route(app, "GET", f"{base}/receipts", list_receipts, tags=t, auth=True,
              summary="Read receipts of the current members", response=obj, errors=(401, 404))
