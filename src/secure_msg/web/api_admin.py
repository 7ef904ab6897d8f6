"""The admin's page (staff invitations, the practice's notice problems, the audit chain) and a
booklet's pending invitations: what the web inbox needs so a practice's day needs no CLI."""

from __future__ import annotations

from aiohttp import web

from secure_msg.clock import ms_to_iso
from secure_msg.model.invitations import InvitationRequest
from secure_msg.model.roles import Role
from secure_msg.model.staff import PendingInvitation
from secure_msg.services import admin_service, booklet_invitations
from secure_msg.web import response_types as out
from secure_msg.web.api_appointments import notice_json
from secure_msg.web.auth import require_session
from secure_msg.web.json_io import path_id, read_body
from secure_msg.web.openapi import add_route
from secure_msg.web.request_types import StaffInviteBody
from secure_msg.web.services import services


def pending_json(p: PendingInvitation) -> out.PendingInvitation:
    return {"id": p.id, "role": p.role.value, "name": p.name, "has_phone": p.has_phone,
            "has_email": p.has_email, "created_at": ms_to_iso(p.created_at_ms),
            "expires_at": ms_to_iso(p.expires_at_ms)}


async def invite_staff(request: web.Request) -> web.Response:
    session = await require_session(request)
    admin_service.require_admin(session)  # before the body: nothing about it to a non-admin
    body = await read_body(request, StaffInviteBody)
    s = services(request)
    issued = await admin_service.invite_staff(
        s.booklets, session, InvitationRequest(Role(body.role), body.name, body.phone,
                                               body.email))
    answer: out.StaffInvitation = {
        "id": issued.invitation.id, "link": issued.link(s.config.server.public_base_url),
        "expires_at": ms_to_iso(issued.invitation.expires_at_ms)}
    return web.json_response(answer, status=201)


async def list_staff(request: web.Request) -> web.Response:
    session = await require_session(request)
    members, waiting = await admin_service.staff(services(request).booklets, session)
    answer: out.Staff = {
        "staff": [{"account_id": m.account_id.hex(), "role": m.role.value, "name": m.name,
                   "created_at": ms_to_iso(m.created_at_ms), "disabled": m.disabled}
                  for m in members],
        "pending": [pending_json(p) for p in waiting]}
    return web.json_response(answer)


async def practice_problems(request: web.Request) -> web.Response:
    session = await require_session(request)
    rows = await admin_service.notice_problems(services(request).booklets, session)
    answer: out.Notices = {"notices": [notice_json(n) for n in rows]}
    return web.json_response(answer)


async def audit_status(request: web.Request) -> web.Response:
    session = await require_session(request)
    report = await admin_service.audit_status(services(request).booklets, session)
    answer: out.AuditStatus = {"ok": report.ok, "checked": report.checked,
                               "first_broken_seq": report.first_broken_seq,
                               "reason": report.reason}
    return web.json_response(answer)


async def booklet_pending(request: web.Request) -> web.Response:
    session = await require_session(request)
    rows = await booklet_invitations.pending(
        services(request).booklets, session, path_id(request, "booklet_id"))
    answer: out.PendingInvitations = {"invitations": [pending_json(p) for p in rows]}
    return web.json_response(answer)


def setup_routes(app: web.Application) -> None:
    t = ["admin"]
    add_route(app, "POST", "/api/admin/invitations", invite_staff, tags=t, status=201,
              auth=True, summary="Invite a therapist or admin (admins); returns a one-time link",
              description="The same as `secure-msg admin invite`, audited with the admin as "
                          "the actor. The link is shown once: only its hash is stored.",
              request=StaffInviteBody, response=out.StaffInvitation, errors=(403,))
    add_route(app, "GET", "/api/admin/staff", list_staff, tags=t, auth=True,
              summary="The practice's therapists and admins, and staff invitations not yet "
                      "used (admins)", response=out.Staff, errors=(403,))
    add_route(app, "GET", "/api/admin/notices/problems", practice_problems, tags=t, auth=True,
              summary="Notices of every booklet that did not, or may not, reach their "
                      "recipient as meant (admins)", response=out.Notices, errors=(403,))
    add_route(app, "GET", "/api/admin/audit", audit_status, tags=t, auth=True,
              summary="The audit hash chain checked now, as `secure-msg admin audit verify` "
                      "(admins)", response=out.AuditStatus, errors=(403,))
    add_route(app, "GET", "/api/booklets/{booklet_id}/invitations", booklet_pending,
              tags=["booklets"], auth=True,
              summary="The booklet's invitations not yet used or expired (its therapist); "
                      "the links themselves are not stored", response=out.PendingInvitations,
              errors=(403,))
