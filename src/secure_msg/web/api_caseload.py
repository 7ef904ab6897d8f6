"""GET /api/me/caseload: the therapist's desk in one request (titles stay ciphertext)."""

from __future__ import annotations

from aiohttp import web

from secure_msg.clock import ms_to_iso
from secure_msg.services import caseload_service
from secure_msg.web import response_types as out
from secure_msg.web.api_appointments import appointment_json, summary_json
from secure_msg.web.auth import require_session
from secure_msg.web.json_io import b64
from secure_msg.web.openapi import add_route
from secure_msg.web.services import services


def _row(r: caseload_service.CaseloadRow) -> out.CaseloadBooklet:
    b = r.booklet
    return {"id": b.id.hex(), "role": b.role.value, "last_seq": b.last_seq,
            "read_seq": b.read_seq, "unread": b.unread, "member_count": b.member_count,
            "title_envelope": b64(b.title_envelope) if b.title_envelope else None,
            "next_session": appointment_json(r.next_session) if r.next_session else None,
            "period": summary_json(r.period) if r.period else None,
            "notice_problems": r.problems, "family_cancellations": r.family_cancellations}


async def get_caseload(request: web.Request) -> web.Response:
    session = await require_session(request)
    c = await caseload_service.caseload(services(request).appointments, session)
    answer: out.Caseload = {"booklets": [_row(r) for r in c.rows],
                            "sessions": [appointment_json(a) for a in c.sessions],
                            "week_from": ms_to_iso(c.week_from_ms),
                            "week_to": ms_to_iso(c.week_to_ms)}
    return web.json_response(answer)


def setup_routes(app: web.Application) -> None:
    add_route(app, "GET", "/api/me/caseload", get_caseload, tags=["appointments"], auth=True,
              summary="The therapist's booklets with next session, period, unread and flags, "
                      "and the week's sessions (therapists)",
              description="Titles are the same encrypted envelopes as in GET /api/booklets. "
                          "`family_cancellations` counts sessions from a week before today on "
                          "that the family cancelled; `notice_problems` as in "
                          "GET /api/notices/problems. The week runs from today 00:00 "
                          "(practice time zone) for 7 days.",
              response=out.Caseload, errors=(403,))
