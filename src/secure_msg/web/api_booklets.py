"""Booklets, members, invitations into a booklet, history grants, entries and receipts."""

from __future__ import annotations

from aiohttp import web

from secure_msg.clock import ms_to_iso
from secure_msg.crypto.safety import fingerprint
from secure_msg.model.booklets import Member
from secure_msg.model.entry_json import page_json
from secure_msg.model.invitations import InvitationRequest
from secure_msg.model.notice_templates import Language
from secure_msg.model.roles import Role
from secure_msg.services import booklet_service, entry_service, member_invitation, notice_service
from secure_msg.web import api_consent
from secure_msg.web import response_types as out
from secure_msg.web.auth import require_session, session_check
from secure_msg.web.json_io import b64, path_id, read_body, read_query
from secure_msg.web.openapi import add_route
from secure_msg.web.request_types import (
    EntriesQuery,
    EntryBody,
    GrantBody,
    InviteBody,
    MembersQuery,
    ReceiptBody,
)
from secure_msg.web.services import services


def member_json(m: Member) -> out.Member:
    return {
        "account_id": m.account_id.hex(), "role": m.role.value, "name": m.name,
        "key_statement": b64(m.key_statement), "fingerprint": fingerprint(m.identity_key),
        "joined_at": ms_to_iso(m.joined_at_ms), "joined_seq": m.joined_seq,
        "removed": not m.current,
    }


async def create_booklet(request: web.Request) -> web.Response:
    session = await require_session(request)
    booklet_id = await booklet_service.create(services(request).booklets, session)
    answer: out.Created = {"id": booklet_id.hex()}
    return web.json_response(answer, status=201)


async def list_booklets(request: web.Request) -> web.Response:
    session = await require_session(request)
    rows = await booklet_service.list_mine(services(request).booklets, session)
    answer: out.Booklets = {"booklets": [{
        "id": r.id.hex(), "role": r.role.value, "last_seq": r.last_seq, "read_seq": r.read_seq,
        "unread": r.unread, "member_count": r.member_count,
        "title_envelope": b64(r.title_envelope) if r.title_envelope else None,
    } for r in rows]}
    return web.json_response(answer)


async def list_members(request: web.Request) -> web.Response:
    session = await require_session(request)
    rows = await booklet_service.members(
        services(request).booklets, session, path_id(request, "booklet_id"),
        include_removed=read_query(request, MembersQuery).all == "1",
    )
    answer: out.Members = {"members": [member_json(m) for m in rows]}
    return web.json_response(answer)


async def invite_member(request: web.Request) -> web.Response:
    session = await require_session(request)
    body = await read_body(request, InviteBody)
    request_ = InvitationRequest(Role(body.role), body.name, body.phone, body.email)
    send = notice_service.parse_send(body.send)
    s = services(request)
    booklet_id = path_id(request, "booklet_id")
    issued, queued = await member_invitation.invite(
        s.booklets, s.notices, session, booklet_id, request_, send,
        body.language or Language.FI,
        terms_txn=api_consent.terms_hook(request, session, booklet_id, body))
    base = s.config.server.public_base_url
    answer: out.Invitation = {
        "id": issued.invitation.id, "link": issued.link(base),
        "expires_at": ms_to_iso(issued.invitation.expires_at_ms), "queued": queued,
    }
    return web.json_response(answer, status=201)


async def remove_member(request: web.Request) -> web.Response:
    session = await require_session(request)
    await booklet_service.remove(
        services(request).booklets, session, path_id(request, "booklet_id"),
        path_id(request, "account_id"),
    )
    return web.Response(status=204)


async def post_grant(request: web.Request) -> web.Response:
    session = await require_session(request)
    body = await read_body(request, GrantBody)
    count = await booklet_service.grant_history(
        services(request).booklets, session, path_id(request, "booklet_id"), body.grant,
    )
    answer: out.Granted = {"entries": count}
    return web.json_response(answer, status=201)


async def list_grants(request: web.Request) -> web.Response:
    session = await require_session(request)
    rows = await booklet_service.my_grants(
        services(request).booklets, session, path_id(request, "booklet_id")
    )
    answer: out.Grants = {
        "grants": [{"granter_id": g.hex(), "grant": b64(blob)} for g, blob in rows]}
    return web.json_response(answer)


async def head(request: web.Request) -> web.Response:
    session = await require_session(request)
    seq, last_hash, version = await entry_service.head(
        services(request).entries, session, path_id(request, "booklet_id")
    )
    answer: out.Head = {"last_seq": seq, "last_hash": b64(last_hash),
                        "members_version": version}
    return web.json_response(answer)


async def post_entry(request: web.Request) -> web.Response:
    # The token is checked in the same read transaction as membership and the chain head
    # (entry_service.post); a malformed request still gets 401 first when the token is bad.
    check = session_check(request)
    entries = services(request).entries
    try:
        booklet_id = path_id(request, "booklet_id")
        body = await read_body(request, EntryBody)
    except Exception:
        await require_session(request)
        raise
    posted = await entry_service.post(entries, check, booklet_id, body.envelope, body.blob_ids,
                                      body.fulfils_request)
    answer: out.Posted = {"seq": posted.seq, "entry_id": posted.entry_id.hex(),
                          "entry_hash": b64(posted.entry_hash)}
    return web.json_response(answer, status=201)


async def list_entries(request: web.Request) -> web.Response:
    # Authentication runs inside entry_service.read's transaction: one round trip per page.
    check = session_check(request)
    try:
        booklet_id = path_id(request, "booklet_id")
        query = read_query(request, EntriesQuery)
    except Exception:
        await require_session(request)  # a bad token is answered 401 before a bad query
        raise
    page, head_seq = await entry_service.read(
        services(request).entries, check, booklet_id, after=query.since, before=query.before,
        limit=query.limit or 50,
    )  # the text is model/entry_json.py's, stored at insert: it has the shape of EntryPage
    return web.json_response(text=page_json([text for _, text in page], head_seq))


async def mark_read(request: web.Request) -> web.Response:
    session = await require_session(request)
    body = await read_body(request, ReceiptBody)
    stored = await booklet_service.mark_read(
        services(request).booklets, session, path_id(request, "booklet_id"), body.read_seq,
    )
    answer: out.ReadSeq = {"read_seq": stored}
    return web.json_response(answer)


async def list_receipts(request: web.Request) -> web.Response:
    session = await require_session(request)
    rows = await booklet_service.receipts(
        services(request).booklets, session, path_id(request, "booklet_id")
    )
    answer: out.Receipts = {"receipts": [
        {"account_id": r.account_id.hex(), "read_seq": r.read_seq,
         "read_at": ms_to_iso(r.read_at_ms)} for r in rows]}
    return web.json_response(answer)


def setup_routes(app: web.Application) -> None:
    t = ["booklets"]
    base = "/api/booklets/{booklet_id}"
    add_route(app, "POST", "/api/booklets", create_booklet, tags=t, status=201, auth=True,
              summary="Open a booklet (therapists); its title is the first entry",
              response=out.Created, errors=(403,))
    add_route(app, "GET", "/api/booklets", list_booklets, tags=t, auth=True,
              summary="My booklets with unread counts and the newest title envelope",
              response=out.Booklets)
    add_route(app, "GET", f"{base}/members", list_members, tags=t, auth=True,
              summary="Members with roles, key statements, fingerprints (?all=1: former too)",
              query=MembersQuery, response=out.Members)
    add_route(app, "POST", f"{base}/invitations", invite_member, tags=t, status=201, auth=True,
              summary="Invite a guardian or caregiver (therapist); returns a one-time link, "
                      "optionally sent to them by SMS and/or e-mail (send)",
              request=InviteBody, response=out.Invitation, errors=(403, 409))
    add_route(app, "DELETE", f"{base}/members/{{account_id}}", remove_member, tags=t,
              status=204, auth=True, summary="Remove a member (therapist) or leave (yourself)",
              errors=(403, 409))
    add_route(app, "POST", f"{base}/grants", post_grant, tags=t, status=201, auth=True,
              summary="Share earlier entries with a member by a signed history grant",
              request=GrantBody, response=out.Granted, errors=(403, 409))
    add_route(app, "GET", f"{base}/grants", list_grants, tags=t, auth=True,
              summary="History grants made to me", response=out.Grants)
    add_route(app, "GET", f"{base}/head", head, tags=t, auth=True,
              summary="The chain head to seal the next entry against", response=out.Head)
    add_route(app, "POST", f"{base}/entries", post_entry, tags=t, status=201, auth=True,
              summary="Post a sealed, signed entry envelope", request=EntryBody,
              response=out.Posted, errors=(403, 409))  # blob_ids: 422 blob-unknown, 409
    add_route(app, "GET", f"{base}/entries", list_entries, tags=t, auth=True,
              summary="Entries I hold keys for: ?since=SEQ ascending or ?before=SEQ newest",
              query=EntriesQuery, response=out.EntryPage)
    add_route(app, "POST", f"{base}/receipts", mark_read, tags=t, auth=True,
              summary="Mark entries up to read_seq as read", request=ReceiptBody,
              response=out.ReadSeq)
    add_route(app, "GET", f"{base}/receipts", list_receipts, tags=t, auth=True,
              summary="Read receipts of the current members", response=out.Receipts)
