"""Inbound SMS and phone calls: cancel by "PERU <code>" or a key press; record consent words.

Each webhook is handled in one write transaction that first looks up its sid: a retried
webhook gets the same TwiML as the first time and changes nothing (DESIGN §1.4). A number that
matches no one and a reply that matches nothing get the same neutral answer, so the answers
reveal nothing about who is a client (DESIGN §5).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from secure_msg.channels.inbound import (
    IntentKind,
    parse_inbound_sms,
    twiml_gather,
    twiml_message,
    twiml_no_reply,
    twiml_say,
)
from secure_msg.crypto.vault import InvalidPhoneNumber, normalise_phone
from secure_msg.domain.appointment_service import AppointmentDeps, family_cancel_txn
from secure_msg.domain.appointments import Appointment
from secure_msg.domain.notice_templates import Language, NoticeKind
from secure_msg.domain.notices import language_of, render_slots
from secure_msg.storage import appointments as appointment_store
from secure_msg.storage import audit as audit_store
from secure_msg.storage import notices as store


@dataclass(frozen=True)
class Caller:
    account_id: bytes | None
    language: Language
    upcoming: list[Appointment]


def _caller_txn(conn: sqlite3.Connection, deps: AppointmentDeps, raw: str, now: int) -> Caller:
    try:
        e164 = normalise_phone(raw)
    except InvalidPhoneNumber:
        return Caller(None, Language.FI, [])
    rows = store.booklets_of_phone_txn(conn, deps.notices.vault, e164)
    if not rows:
        return Caller(None, Language.FI, [])
    booklets = sorted({b for _, b, _ in rows})
    upcoming = appointment_store.upcoming_txn(conn, booklets, now)
    return Caller(rows[0][0], language_of(rows[0][2]), upcoming)


def _text(deps: AppointmentDeps, kind: NoticeKind, lang: Language, at_ms: int | None = None
          ) -> str:
    slots = {} if at_ms is None else render_slots({"date": at_ms, "time": at_ms})
    return deps.notices.renderer.render(kind, lang, slots)


def _neutral(deps: AppointmentDeps, lang: Language = Language.FI) -> str:
    return twiml_message(_text(deps, NoticeKind.NEUTRAL_REPLY, lang))


def _sms_txn(conn: sqlite3.Connection, deps: AppointmentDeps, sid: str, from_: str, body: str,
             now: int) -> str:
    done = store.webhook_reply_txn(conn, sid)
    if done is not None:
        return done
    intent = parse_inbound_sms(body)
    caller = _caller_txn(conn, deps, from_, now)
    reply = _neutral(deps)
    if intent.kind in (IntentKind.OPT_OUT, IntentKind.OPT_IN, IntentKind.HELP):
        reply = twiml_no_reply()  # Twilio answers its own keywords
        if intent.kind is not IntentKind.HELP:
            try:
                e164 = normalise_phone(from_)
            except InvalidPhoneNumber:
                e164 = ""
            if e164:
                store.set_consent_txn(conn, deps.notices.vault, e164,
                                      opted_out=intent.kind is IntentKind.OPT_OUT,
                                      keyword=str(intent.keyword), now_ms=now)
                audit_store.append_audit_txn(
                    conn, at_ms=now, actor="anonymous", action=f"sms.consent.{intent.kind}",
                    detail={"keyword": str(intent.keyword), "known": caller.account_id is not None})
    elif intent.kind is IntentKind.CANCEL and caller.account_id is not None:
        matches = [a for a in caller.upcoming if intent.code in (None, a.cancel_code)]
        if len(matches) == 1:
            a = matches[0]
            family_cancel_txn(conn, deps, a, actor=f"account:{caller.account_id.hex()}",
                              via="sms", canceller_id=caller.account_id, now=now)
            reply = twiml_message(_text(deps, NoticeKind.CANCELLATION_CONFIRMED,
                                        caller.language, a.start_ms))
    store.record_webhook_txn(conn, sid, "sms", reply, now)
    return reply


async def inbound_sms(deps: AppointmentDeps, sid: str, from_: str, body: str) -> str:
    """Handle one signed inbound SMS; returns the TwiML to answer with."""
    now = deps.notices.clock.now_ms()
    return await deps.notices.db.write(lambda c: _sms_txn(c, deps, sid, from_, body, now))


async def voice_call(deps: AppointmentDeps, from_: str, gather_url: str) -> str:
    """An incoming call: read out the caller's next appointment and offer key 1 to cancel."""
    now = deps.notices.clock.now_ms()
    caller = await deps.notices.db.read(lambda c: _caller_txn(c, deps, from_, now))
    if caller.account_id is None or not caller.upcoming:
        return twiml_say(_text(deps, NoticeKind.VOICE_UNKNOWN, caller.language),
                         language=caller.language)
    nxt = caller.upcoming[0]
    return twiml_gather(
        _text(deps, NoticeKind.VOICE_NEXT_APPOINTMENT, caller.language, nxt.start_ms),
        language=caller.language, action_url=f"{gather_url}?a={nxt.id.hex()}",
        fallback=_text(deps, NoticeKind.VOICE_GOODBYE, caller.language),
    )


async def voice_gather(deps: AppointmentDeps, call_sid: str, from_: str, digits: str,
                       appointment_hex: str) -> str:
    """The key press after `voice_call`: 1 cancels the appointment that was read out."""
    now = deps.notices.clock.now_ms()

    def txn(conn: sqlite3.Connection) -> str:
        done = store.webhook_reply_txn(conn, f"{call_sid}:gather")
        if done is not None:
            return done
        caller = _caller_txn(conn, deps, from_, now)
        target = next((a for a in caller.upcoming if a.id.hex() == appointment_hex), None)
        if caller.account_id is None:
            reply = twiml_say(_text(deps, NoticeKind.VOICE_UNKNOWN, caller.language),
                              language=caller.language)
        elif digits == "1" and target is not None:
            family_cancel_txn(conn, deps, target, actor=f"account:{caller.account_id.hex()}",
                              via="voice", canceller_id=caller.account_id, now=now)
            reply = twiml_say(_text(deps, NoticeKind.VOICE_CANCELLED, caller.language,
                                    target.start_ms), language=caller.language)
        else:
            reply = twiml_say(_text(deps, NoticeKind.VOICE_GOODBYE, caller.language),
                              language=caller.language)
        store.record_webhook_txn(conn, f"{call_sid}:gather", "voice", reply, now)
        return reply

    return await deps.notices.db.write(txn)
