"""The booklet's signed roster, invitation trust and join proofs (docs/protocol.md §6.6, §6.7).

Thin handlers over services/roster_service.py; every blob is a public-key object or ciphertext."""

from __future__ import annotations

import re

from aiohttp import web

from secure_msg.errors import NotFound
from secure_msg.services import roster_service as svc
from secure_msg.web import response_types as out
from secure_msg.web.auth import require_session
from secure_msg.web.json_io import b64, path_id, read_body
from secure_msg.web.openapi import add_route
from secure_msg.web.request_types import InvitationTrustBody, JoinBody, RosterBody
from secure_msg.web.services import services

_INVITATION_ID = re.compile(r"[1-9][0-9]{0,17}")


async def get_roster(request: web.Request) -> web.Response:
    session = await require_session(request)
    view = await svc.get(services(request).booklets, session, path_id(request, "booklet_id"))
    answer: out.Roster = {
        "version": view.stored.version,
        "roster": b64(view.stored.roster) if view.stored.roster is not None else None,
        "joins": [{"account_id": j.account_id.hex(), "invitation": b64(j.record),
                   "proof": b64(j.proof)} for j in view.joins],
    }
    return web.json_response(answer)


async def put_roster(request: web.Request) -> web.Response:
    session = await require_session(request)
    body = await read_body(request, RosterBody)
    version = await svc.put(services(request).booklets, session,
                            path_id(request, "booklet_id"), base_version=body.base_version,
                            blob=body.roster)
    answer: out.RosterVersion = {"version": version}
    return web.json_response(answer)


async def put_trust(request: web.Request) -> web.Response:
    session = await require_session(request)
    booklet_id = path_id(request, "booklet_id")
    raw = request.match_info["invitation_id"]
    if not _INVITATION_ID.fullmatch(raw):
        raise NotFound()
    body = await read_body(request, InvitationTrustBody)
    await svc.put_trust(services(request).booklets, session, booklet_id, int(raw),
                        record=body.invitation, grant=body.grant)
    return web.Response(status=204)


async def post_join(request: web.Request) -> web.Response:
    session = await require_session(request)
    body = await read_body(request, JoinBody)
    record, grant = await svc.join(services(request).booklets, session,
                                   path_id(request, "booklet_id"), body.proof)
    answer: out.JoinedWithInvitation = {"invitation": b64(record),
                          "grant": b64(grant) if grant is not None else None}
    return web.json_response(answer)


def setup_routes(app: web.Application) -> None:
    tags = ["booklets"]
    base = "/api/booklets/{booklet_id}"
    add_route(app, "GET", f"{base}/roster", get_roster, tags=tags, auth=True,
              summary="The booklet's signed roster and its members' join proofs",
              description="roster is null with version 0 while none is stored (protocol §6.6).",
              response=out.Roster, errors=(401, 404))
    add_route(app, "PUT", f"{base}/roster", put_roster, tags=tags, auth=True,
              summary="Store the therapist's next signed roster (compare-and-swap)",
              description="409 roster-version-conflict (with current_version) when another "
                          "roster was stored first: read it, recompute and sign again.",
              request=RosterBody, response=out.RosterVersion,
              errors=(401, 403, 404, 409, 422))
    add_route(app, "PUT", f"{base}/invitations/{{invitation_id}}/trust", put_trust, tags=tags,
              auth=True, status=204,
              summary="Attach the signed invitation record and the history sealed to it",
              description="Protocol §6.7: the invitation must be one the therapist issued for "
                          "this booklet and still unused.",
              request=InvitationTrustBody, errors=(401, 403, 404, 410, 422))
    add_route(app, "POST", f"{base}/join", post_join, tags=tags, auth=True,
              summary="Prove that I joined with an invitation's secret; get its history grant",
              request=JoinBody, response=out.JoinedWithInvitation, errors=(401, 404, 409, 410, 422))
