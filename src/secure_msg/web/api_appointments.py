"""Appointments, therapy periods and notices (the channel policy as an API)."""

from __future__ import annotations

from aiohttp import web

from secure_msg.clock import ms_to_iso
from secure_msg.errors import NotFound
from secure_msg.model.appointments import Appointment, AppointmentStatus, PeriodSummary
from secure_msg.model.channel_policy import ContentClass
from secure_msg.model.notices import NoticeView
from secure_msg.services import appointment_service, notice_service
from secure_msg.services.notice_service import SendRequest
from secure_msg.web import response_types as out
from secure_msg.web.auth import require_session
from secure_msg.web.json_io import path_id, read_body
from secure_msg.web.openapi import add_route
from secure_msg.web.request_types import MarkBody, NoticeBody, PeriodBody, ScheduleBody
from secure_msg.web.services import services


def appointment_json(a: Appointment) -> out.Appointment:
    return {"id": a.id.hex(), "booklet_id": a.booklet_id.hex(), "start": ms_to_iso(a.start_ms),
            "duration_minutes": a.duration_min, "status": a.status.value,
            "cancel_code": a.cancel_code, "late": a.late, "cancelled_via": a.cancelled_via}


def summary_json(s: PeriodSummary) -> out.PeriodSummary:
    p = s.period
    return {"id": p.id.hex(), "start": p.start_date.isoformat(), "end": p.end_date.isoformat(),
            "sessions_granted": p.sessions_granted, "payer": p.payer.value, "used": s.used,
            "attended": s.attended, "late_cancellations": s.late_cancellations,
            "late_cancellations_count": s.counts_late, "remaining": s.remaining,
            "summary": s.text()}


def notice_json(n: NoticeView) -> out.Notice:
    return {"id": n.id, "booklet_id": n.booklet_id.hex() if n.booklet_id else None,
            "recipient_id": n.recipient_id.hex() if n.recipient_id else None,
            "channel": n.channel, "kind": n.kind, "status": n.status, "reason": n.reason,
            "error_code": n.error_code, "attempts": n.attempts,
            "updated_at": ms_to_iso(n.updated_at_ms)}


async def schedule(request: web.Request) -> web.Response:
    session = await require_session(request)
    body = await read_body(request, ScheduleBody)
    a = await appointment_service.schedule(
        services(request).appointments, session, path_id(request, "booklet_id"),
        body.start, body.duration_minutes,
    )
    return web.json_response(appointment_json(a), status=201)


async def list_appointments(request: web.Request) -> web.Response:
    session = await require_session(request)
    deps = services(request).appointments
    booklet_id = path_id(request, "booklet_id")
    rows = await appointment_service.list_for_booklet(deps, session, booklet_id)
    try:
        period: out.PeriodSummary | None = summary_json(
            await appointment_service.period_summary(deps, session, booklet_id))
    except NotFound:
        period = None
    # The practice's window: a family cancellation closer than this to the start is late. The
    # current period (or null) comes along so the web inbox needs one request, never a 404.
    answer: out.Appointments = {"appointments": [appointment_json(a) for a in rows],
                                "late_cancellation_hours": deps.late_window_hours,
                                "period": period}
    return web.json_response(answer)


async def cancel(request: web.Request) -> web.Response:
    session = await require_session(request)
    a = await appointment_service.cancel(
        services(request).appointments, session, path_id(request, "booklet_id"),
        path_id(request, "appointment_id"))
    return web.json_response(appointment_json(a))


async def mark(request: web.Request) -> web.Response:
    session = await require_session(request)
    body = await read_body(request, MarkBody)
    a = await appointment_service.mark(
        services(request).appointments, session, path_id(request, "booklet_id"),
        path_id(request, "appointment_id"), AppointmentStatus(body.status))
    return web.json_response(appointment_json(a))


async def set_period(request: web.Request) -> web.Response:
    session = await require_session(request)
    body = await read_body(request, PeriodBody)
    deps = services(request).appointments
    booklet_id = path_id(request, "booklet_id")
    await appointment_service.set_period(
        deps, session, booklet_id, body.start, body.end, body.sessions_granted, body.payer)
    summary = await appointment_service.period_summary(deps, session, booklet_id)
    return web.json_response(summary_json(summary), status=201)


async def get_period(request: web.Request) -> web.Response:
    session = await require_session(request)
    summary = await appointment_service.period_summary(
        services(request).appointments, session, path_id(request, "booklet_id"))
    return web.json_response(summary_json(summary))


async def send_notice(request: web.Request) -> web.Response:
    session = await require_session(request)
    body = await read_body(request, NoticeBody)
    content = body.content or ContentClass.NOTICE
    if body.text is not None:  # anything a person typed is free text, whatever it claims
        content = ContentClass.CLINICAL if content is ContentClass.CLINICAL else \
            ContentClass.FREE_TEXT
    req = SendRequest(body.member_id, body.channel, content, body.kind, body.address,
                      body.appointment_id or None)
    notice_id = await notice_service.send_to_member(
        services(request).notices, session, path_id(request, "booklet_id"), req)
    answer: out.NoticeQueued = {"id": notice_id, "status": "queued"}
    return web.json_response(answer, status=202)


async def booklet_notices(request: web.Request) -> web.Response:
    session = await require_session(request)
    rows = await notice_service.booklet_notices(
        services(request).notices, session, path_id(request, "booklet_id"))
    answer: out.Notices = {"notices": [notice_json(n) for n in rows]}
    return web.json_response(answer)


async def notice_problems(request: web.Request) -> web.Response:
    session = await require_session(request)
    rows = await notice_service.problems(services(request).notices, session)
    answer: out.Notices = {"notices": [notice_json(n) for n in rows]}
    return web.json_response(answer)


def setup_routes(app: web.Application) -> None:
    t = ["appointments"]
    b = "/api/booklets/{booklet_id}"
    a = f"{b}/appointments/{{appointment_id}}"
    add_route(app, "POST", f"{b}/appointments", schedule, tags=t, status=201, auth=True,
              summary="Schedule a session (therapist); returns its cancel code",
              request=ScheduleBody, response=out.Appointment, errors=(403, 409))
    add_route(app, "GET", f"{b}/appointments", list_appointments, tags=t, auth=True,
              summary="The booklet's appointments, the late-cancellation window (hours) and the "
                      "current period (null when none)",
              response=out.Appointments)
    add_route(app, "POST", f"{a}/cancel", cancel, tags=t, auth=True,
              summary="Cancel (therapist: guardians get an SMS; guardian: therapist alerted)",
              response=out.Appointment, errors=(403, 409))
    add_route(app, "POST", f"{a}/status", mark, tags=t, auth=True,
              summary="Mark attended or no_show (therapist)", request=MarkBody,
              response=out.Appointment, errors=(403, 409))
    add_route(app, "POST", f"{b}/period", set_period, tags=t, status=201, auth=True,
              summary="Record the therapy period (start, end, sessions granted, payer)",
              request=PeriodBody, response=out.PeriodSummary, errors=(403, 409))
    add_route(app, "GET", f"{b}/period", get_period, tags=t, auth=True,
              summary='"used N of M, period ends D" for the current period',
              response=out.PeriodSummary)
    add_route(app, "POST", f"{b}/notices", send_notice, tags=["notices"], status=202, auth=True,
              summary="Send a notice to a member over a channel (channel policy applies)",
              description="Clinical or written text on sms/email/whatsapp is refused with 422 "
                          "clinical-content-refused; WhatsApp while disabled: channel-disabled; "
                          "WhatsApp for a kind without an approved template: "
                          "whatsapp-template-missing. More than [notices] "
                          "manual_notices_per_member_hour or _day to one member: 429 "
                          "rate-limited with Retry-After, nothing queued.",
              request=NoticeBody, response=out.NoticeQueued, errors=(403, 409, 429))
    add_route(app, "GET", f"{b}/notices", booklet_notices, tags=["notices"], auth=True,
              summary="Notices of this booklet and their delivery state (therapist)",
              response=out.Notices, errors=(403,))
    add_route(app, "GET", "/api/notices/problems", notice_problems, tags=["notices"], auth=True,
              summary="Notices of my booklets that did not, or may not, reach the family as "
                      "meant (therapists)",
              description="Each has a `status`: failed, undelivered, ambiguous (an attempt may "
                          "have created it; being checked with the provider before any "
                          "resend), reconciled (found at the provider after such an attempt), "
                          "duplicate_suspected (found there more than once: the family may "
                          "have it twice) or expired (not sent while it was still useful).",
              response=out.Notices, errors=(403,))
