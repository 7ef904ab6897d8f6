"""Caregivers' terms and the guardians' consent records (docs/protocol.md §5.1, §10.3)."""

from __future__ import annotations

from aiohttp import web

from secure_msg.clock import ms_to_iso
from secure_msg.crypto.safety import fingerprint
from secure_msg.errors import ValidationFailed
from secure_msg.model.accounts import Session
from secure_msg.model.caregiver_terms import Scope
from secure_msg.services import consent_service
from secure_msg.services.booklet_service import InvitationHook
from secure_msg.services.consent_service import CaregiverView, ConsentDeps
from secure_msg.web import response_types as out
from secure_msg.web.auth import require_session
from secure_msg.web.json_io import b64, path_id, read_body
from secure_msg.web.openapi import add_route
from secure_msg.web.request_types import ConsentBody, InviteBody
from secure_msg.web.services import services


def _deps(request: web.Request) -> ConsentDeps:
    s = services(request)
    return ConsentDeps(s.booklets, s.notices.quiet.zone)


def terms_hook(request: web.Request, session: Session, booklet_id: bytes, body: InviteBody
               ) -> InvitationHook | None:
    """A caregiver's invitation must say until when and what they may read; a guardian's says
    neither."""
    if body.role != "caregiver":
        if body.until is not None or body.scope is not None:
            raise ValidationFailed("Only a caregiver's invitation has until and scope.",
                                   errors=[{"field": "until" if body.until else "scope"}])
        return None
    if body.until is None or body.scope is None:
        missing = [f for f in ("until", "scope") if getattr(body, f) is None]
        raise ValidationFailed("A caregiver's invitation needs until and scope.",
                               errors=[{"field": f, "problem": "required"} for f in missing])
    return consent_service.terms_hook(_deps(request), session, booklet_id, body.until,
                                      Scope(body.scope))


def caregiver_json(v: CaregiverView) -> out.Caregiver:
    t = v.terms
    assert t.account_id is not None
    return {
        "account_id": t.account_id.hex(), "name": v.account.name,
        "key_statement": b64(v.account.key_statement),
        "fingerprint": fingerprint(v.account.identity_key), "until": ms_to_iso(t.until_ms),
        "scope": t.scope.value, "status": t.status.value, "invited_by": t.invited_by.hex(),
        "consents": [{"guardian_id": c.guardian_id.hex(), "action": c.action,
                      "record": b64(c.record), "signed_at": ms_to_iso(c.created_at_ms)}
                     for c in v.consents],
    }


async def list_caregivers(request: web.Request) -> web.Response:
    session = await require_session(request)
    views = await consent_service.caregivers(_deps(request), session,
                                             path_id(request, "booklet_id"))
    answer: out.Caregivers = {"caregivers": [caregiver_json(v) for v in views]}
    return web.json_response(answer)


async def post_consent(request: web.Request) -> web.Response:
    session = await require_session(request)
    body = await read_body(request, ConsentBody)
    view = await consent_service.sign(
        _deps(request), session, path_id(request, "booklet_id"),
        path_id(request, "account_id"), body.record)
    answer: out.Caregiver = caregiver_json(view)
    return web.json_response(answer, status=201)


def setup_routes(app: web.Application) -> None:
    base, t = "/api/booklets/{booklet_id}/caregivers", ["booklets"]
    add_route(app, "GET", base, list_caregivers, tags=t, auth=True,
              summary="Caregivers who joined, their terms, status and the guardians' signed "
                      "consent records", response=out.Caregivers, errors=(403,))
    add_route(app, "POST", f"{base}/{{account_id}}/consents", post_consent, tags=t,
              status=201, auth=True,
              summary="A guardian approves or withdraws a caregiver with a signed record "
                      "(§5.1); the last approval makes them a member, a withdrawal removes them",
              request=ConsentBody, response=out.Caregiver, errors=(403, 409))
