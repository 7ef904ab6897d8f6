"""Inbound SMS and phone calls: cancel by "PERU <code>" or a key press; record consent words.

Each webhook is handled in one write transaction that first looks up its sid: a retried
webhook gets the same TwiML as the first time and changes nothing (DESIGN §1.4). A number that
matches no one and a reply that matches nothing get the same neutral answer, so the answers
reveal nothing about who is a client (DESIGN §5); past a limit per number (`InboundLimits`)
that answer is silence, since each one is an SMS the practice pays for.

Only guardians cancel, as in the API (`appointment_service.cancel`): a caregiver's number is
treated like an unknown one. Failed cancel attempts are limited per sender number and per
appointment (`InboundLimits`); past the limit nothing is cancelled, even with the right code,
and each refusal is audited (threat model §6 item 6).

A `PERU <code>` by WhatsApp (From `whatsapp:+358…`, posted to the same webhook) works as by
SMS for the same number, within the same limits, and is answered on WhatsApp: a TwiML reply goes
back on the channel the message came in on. Consent words stay SMS only.

Everyone who gets no menu gets the same answer, byte for byte, in Finnish, Swedish and English:
a stranger, a guardian with no upcoming appointment, a caregiver and a blocked caller alike. An
answer in the family's language would tell someone calling with a spoofed number that the
number belongs to a client family.

A STOP (or another opt-out word) that newly turns off SMS to a family member's number alerts the
therapists of that member's booklets, since anyone can spoof a parent's number and STOP would
otherwise silently stop their reminders (`notice_service.opt_out_alerts_txn`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from secure_msg.contacts import caller_number
from secure_msg.model.appointments import Appointment
from secure_msg.model.inbound import IntentKind, ReplyFormat, parse_inbound_sms
from secure_msg.model.notice_templates import Language, NoticeKind
from secure_msg.model.notices import language_of, render_slots
from secure_msg.model.roles import Role
from secure_msg.services.appointment_service import AppointmentDeps, family_cancel_txn
from secure_msg.services.notice_service import opt_out_alerts_txn
from secure_msg.services.rate_limit import FailureBook, FailureLimiter, Logs
from secure_msg.storage import appointments as appointment_store
from secure_msg.storage import audit as audit_store
from secure_msg.storage import notices as store
from secure_msg.storage.txn import Txn

CANCEL_ROLES = (Role.GUARDIAN.value,)
# A consent keyword is audited as "known" for anyone we may text (caregivers get entry pings).
FAMILY_ROLES = (Role.GUARDIAN.value, Role.CAREGIVER.value)
MAX_FAILED_CANCELS = 5
WHATSAPP_PREFIX = "whatsapp:"  # how Twilio writes a WhatsApp sender: whatsapp:+358…
DAY_SECONDS = 24 * 3600  # the window of failed cancels and of replies per number
# Neutral SMS replies: each is a text the practice pays for, to a number the sender chose.
NEUTRAL_REPLIES_PER_GUARDIAN_DAY = 10  # a parent who texts back "kiitos" still gets answers
NEUTRAL_REPLIES_PER_STRANGER_DAY = 1
NEUTRAL_REPLIES_TO_STRANGERS_HOUR = 60  # all unknown numbers together (SMS pumping)


class InboundLimits:
    """Failed SMS/voice cancel attempts per sender number and per appointment, over a window,
    and how many neutral SMS replies go out.

    Kept in a FailureBook (services/rate_limit.py): in the database, every process on it shares
    the counts; in memory, each process counts alone and a restart forgets them. The checks run
    inside the webhook's own write transaction (`conn`), so a check and its count are one step.
    Refused attempts are not counted, so a block ends one window after the failures that
    caused it.
    """

    def __init__(self, book: FailureBook, *, max_failures: int = MAX_FAILED_CANCELS,
                 window_seconds: float = DAY_SECONDS) -> None:
        self.book = book
        self._failures = FailureLimiter("inbound.cancel", max_failures=max_failures,
                                        window_seconds=window_seconds)
        self._guardian_replies = FailureLimiter(
            "inbound.reply_guardian", max_failures=NEUTRAL_REPLIES_PER_GUARDIAN_DAY,
            window_seconds=DAY_SECONDS)
        self._stranger_replies = FailureLimiter(
            "inbound.reply_stranger", max_failures=NEUTRAL_REPLIES_PER_STRANGER_DAY,
            window_seconds=DAY_SECONDS)
        self._all_stranger_replies = FailureLimiter(
            "inbound.reply_strangers", max_failures=NEUTRAL_REPLIES_TO_STRANGERS_HOUR,
            window_seconds=3600)

    def may_reply(self, conn: Txn | None, sender: str, *, guardian: bool) -> bool:
        """Whether a neutral reply may go to `sender` now; if so it is counted. Without a limit
        anyone could make the practice text premium-rate numbers (SMS pumping), or flood a
        parent by spoofing their number."""
        logs = self.book.logs(conn)
        key = sender.encode()
        counts = ([(self._guardian_replies, key)] if guardian
                  else [(self._stranger_replies, key), (self._all_stranger_replies, b"all")])
        if any(limit.retry_after(logs, k) is not None for limit, k in counts):
            return False
        for limit, k in counts:
            limit.fail(logs, k)
        return True

    @staticmethod
    def _keys(sender: str, appointment_ids: Iterable[bytes]) -> list[bytes]:
        return [b"sender:" + sender.encode(), *(b"appointment:" + a for a in appointment_ids)]

    def blocked(self, conn: Txn | None, sender: str,
                appointment_ids: Iterable[bytes] = ()) -> bool:
        return self._blocked(self.book.logs(conn), sender, appointment_ids)

    async def blocked_now(self, sender: str, appointment_ids: Iterable[bytes] = ()) -> bool:
        """`blocked` outside a transaction: a read of its own when the book is shared."""
        ids = list(appointment_ids)
        return await self.book.read(lambda logs: self._blocked(logs, sender, ids))

    def _blocked(self, logs: Logs, sender: str, appointment_ids: Iterable[bytes]) -> bool:
        return any(self._failures.retry_after(logs, k) is not None
                   for k in self._keys(sender, appointment_ids))

    def fail(self, conn: Txn | None, sender: str, appointment_ids: Iterable[bytes] = ()) -> None:
        logs = self.book.logs(conn)
        for key in self._keys(sender, appointment_ids):
            self._failures.fail(logs, key)


@dataclass(frozen=True)
class Caller:
    sender: str  # the E.164 number, or the raw From when it is not a phone number
    account_id: bytes | None  # a guardian's account; None for anyone else
    language: Language
    upcoming: list[Appointment]

    @property
    def upcoming_ids(self) -> list[bytes]:
        return [a.id for a in self.upcoming]


def _caller_txn(conn: Txn, deps: AppointmentDeps, raw: str, now: int) -> Caller:
    e164 = caller_number(raw)
    rows = store.booklets_of_phone_txn(conn, deps.notices.vault, e164, CANCEL_ROLES) if e164 else []
    if not rows:
        return Caller(e164 or raw, None, Language.FI, [])
    booklets = sorted({b for _, b, _ in rows})
    upcoming = appointment_store.upcoming_txn(conn, booklets, now)
    return Caller(e164 or raw, rows[0][0], language_of(rows[0][2]), upcoming)


def _text(deps: AppointmentDeps, kind: NoticeKind, lang: Language, at_ms: int | None = None
          ) -> str:
    slots = {} if at_ms is None else render_slots({"date": at_ms, "time": at_ms})
    return deps.notices.renderer.render(kind, lang, slots)


def _neutral(deps: AppointmentDeps, replies: ReplyFormat) -> str:
    """The one SMS answer for anyone the service will not tell anything."""
    return replies.message(deps.notices.renderer.render_every_language(NoticeKind.NEUTRAL_REPLY))


def _no_menu(deps: AppointmentDeps, replies: ReplyFormat) -> str:
    """The one call answer for anyone who gets no menu: the same whoever calls."""
    return replies.say_in_turn(deps.notices.renderer.in_every_language(NoticeKind.VOICE_UNKNOWN))


def _say(deps: AppointmentDeps, replies: ReplyFormat, kind: NoticeKind, caller: Caller,
         at_ms: int | None = None) -> str:
    return replies.say(_text(deps, kind, caller.language, at_ms), language=caller.language)


def _actor(caller: Caller) -> str:
    return "anonymous" if caller.account_id is None else f"account:{caller.account_id.hex()}"


def _refused_txn(conn: Txn, caller: Caller, via: str, now: int) -> None:
    """Audit a cancel refused by the limit (no number in the log: the actor says who, if known)."""
    audit_store.append_audit_txn(conn, at_ms=now, actor=_actor(caller),
                                 action="appointment.cancel_refused",
                                 detail={"via": via, "reason": "too-many-failures"})


def _consent_txn(conn: Txn, deps: AppointmentDeps, from_: str, kind: IntentKind,
                 keyword: str, now: int) -> None:
    e164 = caller_number(from_)
    if e164 is None:
        return
    vault = deps.notices.vault
    opting_out = kind is IntentKind.OPT_OUT
    newly_out = opting_out and not store.opted_out_txn(conn, vault, e164)
    store.set_consent_txn(conn, vault, e164, opted_out=opting_out, keyword=keyword, now_ms=now)
    members = store.booklets_of_phone_txn(conn, vault, e164, FAMILY_ROLES)
    audit_store.append_audit_txn(conn, at_ms=now, actor="anonymous",
                                 action=f"sms.consent.{kind}",
                                 detail={"keyword": keyword, "known": bool(members)})
    if newly_out:  # a repeated STOP changes nothing, so it tells no one again
        _alert_opt_out_txn(conn, deps, [(a, b) for a, b, _ in members], now)


def _alert_opt_out_txn(conn: Txn, deps: AppointmentDeps,
                       memberships: list[tuple[bytes, bytes]], now: int) -> None:
    """Queue the therapists' STOP alerts; audit each booklet alerted (no number, no member)."""
    for booklet_id in opt_out_alerts_txn(conn, deps.notices, memberships, now):
        audit_store.append_audit_txn(conn, at_ms=now, actor="anonymous",
                                     action="sms.consent.opt_out_alerted",
                                     target=f"booklet:{booklet_id.hex()}")


def _cancel_sms_txn(conn: Txn, deps: AppointmentDeps, limits: InboundLimits,
                    replies: ReplyFormat, caller: Caller, code: str | None, via: str, now: int
                    ) -> str | None:
    """PERU/AVBOKA [code] by `via` (sms, whatsapp): cancels the one upcoming appointment it
    matches, within the limit; None when the answer is the neutral one."""
    matches = [a for a in caller.upcoming if code in (None, a.cancel_code)]
    target = matches[0] if len(matches) == 1 else None
    if limits.blocked(conn, caller.sender, [target.id] if target else []):
        _refused_txn(conn, caller, via, now)
        return None
    if caller.account_id is None or target is None:
        # A wrong guess may be aimed at any of the caller's appointments: count it against each.
        limits.fail(conn, caller.sender, caller.upcoming_ids)
        return None
    family_cancel_txn(conn, deps, target, actor=_actor(caller), via=via,
                      canceller_id=caller.account_id, now=now)
    return replies.message(_text(deps, NoticeKind.CANCELLATION_CONFIRMED, caller.language,
                               target.start_ms))


def _channel_of(from_: str) -> tuple[str, str]:
    """The channel a message came by (sms, whatsapp) and its sender without the channel's
    prefix: a number cancels by WhatsApp as by SMS, and shares one limit of failures."""
    if from_.startswith(WHATSAPP_PREFIX):
        return "whatsapp", from_.removeprefix(WHATSAPP_PREFIX)
    return "sms", from_


def _sms_txn(conn: Txn, deps: AppointmentDeps, limits: InboundLimits,
             replies: ReplyFormat, sid: str, from_: str, body: str, now: int) -> str:
    done = store.webhook_reply_txn(conn, sid)
    if done is not None:
        return done
    intent = parse_inbound_sms(body)
    via, sender = _channel_of(from_)
    if intent.kind in (IntentKind.OPT_OUT, IntentKind.OPT_IN, IntentKind.HELP):
        reply = replies.no_reply()  # Twilio answers its own keywords
        if intent.kind is not IntentKind.HELP and via == "sms":  # SMS consent, by SMS only
            _consent_txn(conn, deps, from_, intent.kind, str(intent.keyword), now)
    else:
        caller = _caller_txn(conn, deps, sender, now)
        cancelled = (_cancel_sms_txn(conn, deps, limits, replies, caller, intent.code, via, now)
                     if intent.kind is IntentKind.CANCEL else None)
        if cancelled is not None:
            reply = cancelled
        elif limits.may_reply(conn, caller.sender, guardian=caller.account_id is not None):
            reply = _neutral(deps, replies)
        else:
            reply = replies.no_reply()  # past the limit of neutral replies: silence
    store.record_webhook_txn(conn, sid, "sms", reply, now)
    return reply


async def inbound_sms(deps: AppointmentDeps, limits: InboundLimits, replies: ReplyFormat,
                      sid: str, from_: str, body: str) -> str:
    """Handle one signed inbound SMS; returns the reply (TwiML) to answer with."""
    now = deps.notices.clock.now_ms()
    return await deps.notices.db.write(
        lambda c: _sms_txn(c, deps, limits, replies, sid, from_, body, now))


async def voice_call(deps: AppointmentDeps, limits: InboundLimits, replies: ReplyFormat,
                     from_: str, gather_url: str) -> str:
    """An incoming call: read out the caller's next appointment and offer key 1 to cancel."""
    now = deps.notices.clock.now_ms()
    caller = await deps.notices.db.read(lambda c: _caller_txn(c, deps, from_, now))
    if (caller.account_id is None or not caller.upcoming
            or await limits.blocked_now(caller.sender, caller.upcoming_ids[:1])):
        return _no_menu(deps, replies)
    nxt = caller.upcoming[0]
    return replies.gather(
        _text(deps, NoticeKind.VOICE_NEXT_APPOINTMENT, caller.language, nxt.start_ms),
        language=caller.language, action_url=f"{gather_url}?a={nxt.id.hex()}",
        fallback=_text(deps, NoticeKind.VOICE_GOODBYE, caller.language),
    )


def _gather_txn(conn: Txn, deps: AppointmentDeps, limits: InboundLimits,
                replies: ReplyFormat, caller: Caller, digits: str, appointment_hex: str,
                now: int) -> str:
    if caller.account_id is not None and digits != "1":
        # declined: not a failed attempt
        return _say(deps, replies, NoticeKind.VOICE_GOODBYE, caller)
    target = next((a for a in caller.upcoming if a.id.hex() == appointment_hex), None)
    if limits.blocked(conn, caller.sender, [target.id] if target else []):
        _refused_txn(conn, caller, "voice", now)
        return _no_menu(deps, replies)
    if caller.account_id is None or target is None:
        limits.fail(conn, caller.sender, caller.upcoming_ids)
        if caller.account_id is None:
            return _no_menu(deps, replies)
        return _say(deps, replies, NoticeKind.VOICE_GOODBYE, caller)
    family_cancel_txn(conn, deps, target, actor=_actor(caller), via="voice",
                      canceller_id=caller.account_id, now=now)
    return _say(deps, replies, NoticeKind.VOICE_CANCELLED, caller, target.start_ms)


async def voice_gather(deps: AppointmentDeps, limits: InboundLimits, replies: ReplyFormat,
                       call_sid: str, from_: str, digits: str, appointment_hex: str) -> str:
    """The key press after `voice_call`: 1 cancels the appointment that was read out."""
    now = deps.notices.clock.now_ms()

    def txn(conn: Txn) -> str:
        done = store.webhook_reply_txn(conn, f"{call_sid}:gather")
        if done is not None:
            return done
        caller = _caller_txn(conn, deps, from_, now)
        reply = _gather_txn(conn, deps, limits, replies, caller, digits, appointment_hex, now)
        store.record_webhook_txn(conn, f"{call_sid}:gather", "voice", reply, now)
        return reply

    return await deps.notices.db.write(txn)
