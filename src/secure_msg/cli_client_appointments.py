"""`secure-msg client appointment|period|notice …`: appointments, therapy periods, notices."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from secure_msg.client import Client

Command = Callable[[Client, argparse.Namespace], Awaitable[dict[str, Any]]]


def _line(a: dict[str, Any]) -> str:
    late = " (late)" if a["late"] else ""
    return f"{a['id']}  {a['start']}  {a['duration_minutes']} min  {a['status']}{late}  " \
           f"code {a['cancel_code']}"


async def _schedule(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    r: dict[str, Any] = await c.api.call("POST", f"/api/booklets/{a.booklet}/appointments",
                                         {"start": a.start, "duration_minutes": a.duration})
    return {**r, "text": f"Scheduled: {_line(r)}"}


async def _list(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    rows = (await c.api.call("GET", f"/api/booklets/{a.booklet}/appointments"))["appointments"]
    return {"appointments": rows, "text": "\n".join(map(_line, rows)) or "No appointments."}


async def _cancel(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    r: dict[str, Any] = await c.api.call(
        "POST", f"/api/booklets/{a.booklet}/appointments/{a.appointment}/cancel")
    return {**r, "text": f"Cancelled: {_line(r)}"}


async def _mark(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    r: dict[str, Any] = await c.api.call(
        "POST", f"/api/booklets/{a.booklet}/appointments/{a.appointment}/status",
        {"status": a.status})
    return {**r, "text": _line(r)}


async def _period_set(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    r: dict[str, Any] = await c.api.call("POST", f"/api/booklets/{a.booklet}/period", {
        "start": a.start, "end": a.end, "sessions_granted": a.sessions, "payer": a.payer})
    return {**r, "text": r["summary"]}


async def _period_show(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    r: dict[str, Any] = await c.api.call("GET", f"/api/booklets/{a.booklet}/period")
    return {**r, "text": r["summary"]}


async def _notice_send(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    body = {"member_id": a.member, "channel": a.channel, "kind": a.kind, "content": a.content}
    if a.text is not None:
        body["text"] = a.text
    if a.appointment is not None:
        body["appointment_id"] = a.appointment
    r: dict[str, Any] = await c.api.call("POST", f"/api/booklets/{a.booklet}/notices", body)
    return {**r, "text": f"Notice {r['id']} queued."}


# What each problem status means to the therapist reading `notice problems`.
PROBLEM_MEANS = {
    "failed": "not sent",
    "undelivered": "sent, but did not reach the phone",
    "ambiguous": "may have been sent; being checked with the provider before any resend",
    "reconciled": "found at the provider after an unclear attempt: sent once",
    "duplicate_suspected": "found at the provider more than once: may have arrived twice",
    "expired": "not sent while it was still useful",
}


async def _problems(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    rows = (await c.api.call("GET", "/api/notices/problems"))["notices"]
    text = "\n".join(f"{n['updated_at']}  {n['kind']} by {n['channel']} to {n['recipient_id']}: "
                     f"{n['status']} ({n['reason']}): {PROBLEM_MEANS.get(n['status'], '')}"
                     for n in rows)
    return {"notices": rows, "text": text or "No delivery problems."}


def register(sub: Any, cmd: Callable[[argparse.ArgumentParser, Command], None]) -> None:
    ap = sub.add_parser("appointment", help="schedule, list, cancel and mark sessions")
    asub = ap.add_subparsers(dest="appointment_command", required=True, metavar="COMMAND")
    p = asub.add_parser("schedule", help="schedule a session (therapist)")
    p.add_argument("booklet")
    p.add_argument("--start", required=True,
                   help="ISO time with offset, e.g. 2026-05-13T14:30+03:00")
    p.add_argument("--duration", type=int, default=45, help="minutes")
    cmd(p, _schedule)
    p = asub.add_parser("list", help="the booklet's appointments")
    p.add_argument("booklet")
    cmd(p, _list)
    p = asub.add_parser("cancel", help="cancel (guardians get an SMS / the therapist is alerted)")
    p.add_argument("booklet")
    p.add_argument("appointment")
    cmd(p, _cancel)
    p = asub.add_parser("mark", help="mark attended or no-show (therapist)")
    p.add_argument("booklet")
    p.add_argument("appointment")
    p.add_argument("--status", choices=["attended", "no_show"], required=True)
    cmd(p, _mark)
    pp = sub.add_parser("period", help="the therapy period: used N of M")
    psub = pp.add_subparsers(dest="period_command", required=True, metavar="COMMAND")
    p = psub.add_parser("set", help="record the period (therapist)")
    p.add_argument("booklet")
    p.add_argument("--start", required=True, help="YYYY-MM-DD")
    p.add_argument("--end", required=True, help="YYYY-MM-DD")
    p.add_argument("--sessions", type=int, required=True, help="sessions granted, e.g. 40")
    p.add_argument("--payer", choices=["kela", "municipality", "self", "other"], default="kela")
    cmd(p, _period_set)
    p = psub.add_parser("show", help='"used N of M, period ends D"')
    p.add_argument("booklet")
    cmd(p, _period_show)
    np = sub.add_parser("notice", help="notices over SMS / e-mail / WhatsApp (channel policy "
                                       "applies)")
    nsub = np.add_subparsers(dest="notice_command", required=True, metavar="COMMAND")
    p = nsub.add_parser("send", help="send a neutral notice to a member over a channel")
    p.add_argument("booklet")
    p.add_argument("--member", required=True)
    p.add_argument("--channel", choices=["sms", "email", "whatsapp", "inbox"], required=True)
    p.add_argument("--kind", choices=["new_entry_ping", "invitation", "reminder",
                                      "cancelled_by_therapist"], default="new_entry_ping")
    p.add_argument("--appointment", help="the appointment id (reminder, cancelled_by_therapist)")
    p.add_argument("--content", choices=["notice", "clinical", "free_text"], default="notice")
    p.add_argument("--text", help="refused on plain channels: written text goes to the inbox")
    cmd(p, _notice_send)
    cmd(nsub.add_parser("problems", help="notices that failed, expired, were undelivered "
                                         "or may have gone twice (therapists)"), _problems)
