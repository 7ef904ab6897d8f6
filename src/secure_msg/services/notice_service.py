"""Notices: who gets which template over which channel, and the rules around sending.

Every notice is queued inside the same transaction as the change it announces (a cancellation
and its SMS commit together), with a dedupe key that makes it exactly-once to queue. The outbox
worker (channels/outbox.py) sends them. Nothing here takes user-written text: slots are times,
codes and links only (DESIGN §1.2).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from secure_msg.contacts import normalise_email, normalise_phone
from secure_msg.errors import (
    ChannelDisabled,
    ClinicalContentRefused,
    Forbidden,
    NotFound,
    RateLimited,
    ValidationFailed,
    WhatsAppTemplateMissing,
)
from secure_msg.model import channel_policy
from secure_msg.model.accounts import Session
from secure_msg.model.appointments import QuietHours
from secure_msg.model.channel_policy import Channel, ContentClass
from secure_msg.model.invitations import InvitationRequest, IssuedInvitation
from secure_msg.model.notice_caps import DAY_MS, MANUAL_KEY_PREFIX, ManualNoticeCap
from secure_msg.model.notice_templates import Language, NoticeKind, NoticeRenderer
from secure_msg.model.notices import QUIET_KINDS, Contact, NewNotice, NoticeView, SlotValue
from secure_msg.model.roles import Role
from secure_msg.services import outbox
from secure_msg.services.booklet_service import require_member_txn
from secure_msg.services.core import Core
from secure_msg.storage import appointments as appointment_store
from secure_msg.storage import audit as audit_store
from secure_msg.storage import booklet_lifecycle as lifecycle_store
from secure_msg.storage import notices as store
from secure_msg.storage.txn import Txn


@dataclass(frozen=True)
class NoticeDeps(Core):
    renderer: NoticeRenderer
    quiet: QuietHours
    public_base_url: str
    whatsapp_enabled: bool = False
    email_enabled: bool = False
    ping_enabled: bool = False
    ping_interval_ms: int = 3_600_000
    # (kind, language) pairs with an approved WhatsApp template ([whatsapp.templates]).
    whatsapp_templates: frozenset[tuple[NoticeKind, Language]] = frozenset()
    # The [notices] manual_notices_per_member_hour and _day defaults.
    manual_cap: ManualNoticeCap = field(default_factory=lambda: ManualNoticeCap(3, 10))


def not_before(deps: NoticeDeps, kind: NoticeKind, due_ms: int) -> int:
    return deps.quiet.next_allowed(due_ms) if kind in QUIET_KINDS else due_ms


def sms_notices(
    deps: NoticeDeps, contacts: Iterable[Contact], kind: NoticeKind,
    slots: Mapping[str, SlotValue], key: str, due_ms: int, booklet_id: bytes | None,
) -> list[NewNotice]:
    """One SMS per contact that has a phone number; `key` + account id is the dedupe key."""
    when = not_before(deps, kind, due_ms)
    return [
        NewNotice(f"{key}:{c.account_id.hex()}", Channel.SMS, c.phone, kind, c.language,
                  dict(slots), when, c.account_id, booklet_id)
        for c in contacts if c.phone
    ]


def enqueue_all_txn(conn: Txn, deps: NoticeDeps, notices: Iterable[NewNotice],
                    now_ms: int) -> int:
    return sum(store.enqueue_txn(conn, deps.vault, n, now_ms) for n in notices)


def family_txn(conn: Txn, deps: NoticeDeps, booklet_id: bytes) -> list[Contact]:
    """Guardians of the booklet: the people appointment notices go to."""
    return store.booklet_contacts_txn(conn, deps.vault, booklet_id, ("guardian",))


OPT_OUT_ALERT_MS = 86_400_000  # at most one STOP alert per member and booklet in this time


def booklet_link(deps: NoticeDeps, booklet_id: bytes) -> str:
    """The web inbox's address of a booklet: it names the family to its members only."""
    return f"{deps.public_base_url.rstrip('/')}/#/b/{booklet_id.hex()}"


def opt_out_alerts_txn(conn: Txn, deps: NoticeDeps,
                       memberships: Iterable[tuple[bytes, bytes]], now_ms: int) -> list[bytes]:
    """Tell the therapists of each (account, booklet) membership that the member's number sent
    STOP, so a STOP spoofed from a parent's number does not cut the family off unseen. Keyed
    per member, booklet and day: STOP/START over and over alerts at most once a day. Returns
    the booklets whose therapists got a new alert."""
    day = now_ms // OPT_OUT_ALERT_MS
    alerted = []
    for account_id, booklet_id in memberships:
        therapists = store.booklet_contacts_txn(conn, deps.vault, booklet_id, ("therapist",))
        notices = sms_notices(deps, therapists, NoticeKind.OPT_OUT_ALERT,
                              {"link": booklet_link(deps, booklet_id)},
                              f"optout:{account_id.hex()}:{booklet_id.hex()}:{day}", now_ms,
                              booklet_id)
        if enqueue_all_txn(conn, deps, notices, now_ms):
            alerted.append(booklet_id)
    return alerted


# -- invitation links through the outbox ---------------------------------------------------------

INVITATION_CHANNELS = (Channel.SMS, Channel.EMAIL)


def parse_send(values: Iterable[str]) -> tuple[Channel, ...]:
    """The `send` field of an invitation: a subset of sms and email, in a stable order."""
    wanted = set()
    for v in values:
        try:
            channel = Channel(v)
        except ValueError:
            channel = None
        if channel not in INVITATION_CHANNELS:
            raise ValidationFailed("send may list sms and email",
                                   errors=[{"field": "send", "value": str(v)[:20]}])
        wanted.add(channel)
    return tuple(c for c in INVITATION_CHANNELS if c in wanted)


async def check_invitation_send(deps: NoticeDeps, session: Session, booklet_id: bytes,
                                request: InvitationRequest, send: Iterable[Channel]) -> None:
    """Refuse, before anything is created, an invitation that cannot be sent as asked.

    A `whatsapp:` address on the SMS path is refused by the channel policy (422
    clinical-content-refused, audited) exactly as for any other notice.
    """
    send = tuple(send)
    if Channel.SMS in send:
        if not request.phone:
            raise ValidationFailed("Sending by SMS needs a phone number.",
                                   errors=[{"field": "phone"}])
        decision = channel_policy.decide(ContentClass.NOTICE, Channel.SMS,
                                         whatsapp_notices_enabled=deps.whatsapp_enabled,
                                         address=request.phone)
        if not decision.allowed:
            now = deps.clock.now_ms()

            def refuse_txn(conn: Txn) -> None:
                require_member_txn(conn, booklet_id, session)
                audit_store.append_audit_txn(
                    conn, at_ms=now, actor=f"account:{session.account_id.hex()}",
                    action="notice.refused", target=f"booklet:{booklet_id.hex()}",
                    detail={"channel": Channel.SMS.value, "content": "invitation",
                            "reason": str(decision.reason)},
                )

            await deps.db.write(refuse_txn)
            raise ClinicalContentRefused(decision.detail, reason=str(decision.reason))
    if Channel.EMAIL in send:
        if not request.email:
            raise ValidationFailed("Sending by e-mail needs an e-mail address.",
                                   errors=[{"field": "email"}])
        if not deps.email_enabled:
            raise ChannelDisabled("E-mail notices are not enabled.")


def invitation_notices_txn(
    conn: Txn, deps: NoticeDeps, issued: IssuedInvitation, booklet_id: bytes,
    send: Iterable[Channel], language: Language, now_ms: int,
) -> list[str]:
    """Queue the invitation link to the invitee, inside the transaction that creates the
    invitation (both or neither). The link slot is sealed in the outbox (storage/notices.py)."""
    invitation = issued.invitation
    link = issued.link(deps.public_base_url)
    queued = []
    for channel in send:
        address = invitation.phone if channel is Channel.SMS else invitation.email
        if not address:
            continue
        notice = NewNotice(
            f"invitation:{invitation.id}:{channel.value}", channel, address,
            NoticeKind.INVITATION, language, {"link": link},
            not_before(deps, NoticeKind.INVITATION, now_ms), None, booklet_id)
        if store.enqueue_txn(conn, deps.vault, notice, now_ms):
            queued.append(channel.value)
    return queued


# -- the channel policy as an API -------------------------------------------------------------

SENDABLE_KINDS = frozenset({NoticeKind.NEW_ENTRY_PING, NoticeKind.INVITATION,
                            NoticeKind.REMINDER, NoticeKind.CANCELLED_BY_THERAPIST})
APPOINTMENT_KINDS = frozenset({NoticeKind.REMINDER, NoticeKind.CANCELLED_BY_THERAPIST})


@dataclass(frozen=True)
class SendRequest:
    member_id: bytes
    channel: Channel
    content: ContentClass
    kind: NoticeKind | None
    address: str | None = None  # an explicit address (e.g. whatsapp:+358…); default: the member's
    appointment_id: bytes | None = None  # reminder / cancelled_by_therapist: which appointment


async def send_to_member(
    deps: NoticeDeps, session: Session, booklet_id: bytes, req: SendRequest
) -> int:
    """A therapist sends a notice to a member over a chosen channel; returns the notice id.

    Anything but a server-rendered notice on a plain channel is refused (422), audited, and
    nothing is queued. Only the therapist's refusals are audited: anyone else is 403 first, so
    a member cannot fill the audit with refusals.
    """
    decision = channel_policy.decide(
        req.content, req.channel, whatsapp_notices_enabled=deps.whatsapp_enabled,
        address=req.address,
    )
    now = deps.clock.now_ms()
    actor = f"account:{session.account_id.hex()}"

    def refuse_txn(conn: Txn) -> None:
        _require_therapist_txn(conn, booklet_id, session)
        audit_store.append_audit_txn(
            conn, at_ms=now, actor=actor, action="notice.refused",
            target=f"booklet:{booklet_id.hex()}",
            detail={"channel": req.channel.value, "content": req.content.value,
                    "reason": str(decision.reason)},
        )

    if not decision.allowed:
        await deps.db.write(refuse_txn)
        if decision.problem_type == channel_policy.CHANNEL_DISABLED_PROBLEM:
            raise ChannelDisabled(decision.detail)
        raise ClinicalContentRefused(decision.detail, reason=str(decision.reason))
    if req.channel is Channel.INBOX:
        raise ValidationFailed("Inbox messages are posted as encrypted entries.",
                               errors=[{"field": "channel"}])
    if req.kind not in SENDABLE_KINDS:
        raise ValidationFailed("kind must be new_entry_ping, invitation, reminder or "
                               "cancelled_by_therapist", errors=[{"field": "kind"}])
    if (req.kind in APPOINTMENT_KINDS) != (req.appointment_id is not None):
        raise ValidationFailed("appointment_id goes with reminder and cancelled_by_therapist",
                               errors=[{"field": "appointment_id"}])
    if req.channel is Channel.EMAIL and not deps.email_enabled:
        raise ChannelDisabled("E-mail notices are not enabled.")
    link = f"{deps.public_base_url}/"

    def txn(conn: Txn) -> int:
        _require_therapist_txn(conn, booklet_id, session)
        lifecycle_store.require_open_txn(conn, booklet_id)
        member = next((c for c in store.booklet_contacts_txn(
            conn, deps.vault, booklet_id, ("guardian", "caregiver", "therapist"))
            if c.account_id == req.member_id), None)
        if member is None:
            raise NotFound("No such member.")
        _check_manual_cap_txn(conn, deps, booklet_id, member.account_id, now)
        address = _member_address(req, member)
        assert req.kind is not None
        if req.channel is Channel.WHATSAPP:
            if (req.kind, member.language) not in deps.whatsapp_templates:
                raise WhatsAppTemplateMissing(
                    "No approved WhatsApp template is configured for this notice.",
                    kind=req.kind.value, language=member.language.value)
            address = whatsapp_address(address)
        slots = _appointment_slots_txn(conn, booklet_id, req) if req.appointment_id else {
            "link": link}
        # An appointment notice's key names the appointment second, like the scheduler's, so the
        # outbox skips a reminder whose appointment is no longer scheduled.
        key = MANUAL_KEY_PREFIX + (f"{req.appointment_id.hex()}:{deps.rng(8).hex()}"
                                   if req.appointment_id else deps.rng(8).hex())
        notice = NewNotice(key, req.channel, address, req.kind, member.language, slots,
                           now, member.account_id, booklet_id)
        store.enqueue_txn(conn, deps.vault, notice, now)
        audit_store.append_audit_txn(
            conn, at_ms=now, actor=actor, action="notice.queued",
            target=f"booklet:{booklet_id.hex()}",
            detail={"channel": req.channel.value, "kind": req.kind.value,
                    "member": member.account_id.hex()},
        )
        return store.notice_id_txn(conn, key)

    return await deps.db.write(txn)


def _check_manual_cap_txn(conn: Txn, deps: NoticeDeps, booklet_id: bytes, member_id: bytes,
                          now_ms: int) -> None:
    """Refuse a notice by hand beyond the member's hourly or daily cap, counted from the
    stored notices inside the sending transaction, so concurrent requests cannot both pass."""
    sent = store.manual_notice_times_txn(conn, member_id, booklet_id, now_ms - DAY_MS)
    reached = deps.manual_cap.check(sent, now_ms)
    if reached is not None:
        raise RateLimited(
            reached.retry_after_seconds,
            f"This member has already been sent {reached.limit} notices by hand in the last "
            f"{reached.window}, the most allowed; nothing was sent.")


def _require_therapist_txn(conn: Txn, booklet_id: bytes, session: Session) -> None:
    if require_member_txn(conn, booklet_id, session) is not Role.THERAPIST:
        raise Forbidden("Only the booklet's therapist can send notices.")


def _member_address(req: SendRequest, member: Contact) -> str:
    """The member's own phone or e-mail for the channel. A given `address` must be that same
    address, in any spelling: a notice never goes outside the booklet, or a stolen therapist
    token would be a way to text premium-rate numbers or relay mail."""
    own = member.email if req.channel is Channel.EMAIL else member.phone
    if not own:
        raise ValidationFailed("The member has no address for this channel.",
                               errors=[{"field": "channel"}])
    if req.address is not None and _spelling_of(req.channel, req.address) != own:
        raise ValidationFailed("A notice goes only to the member's own address.",
                               errors=[{"field": "address"}])
    return own


def _spelling_of(channel: Channel, address: str) -> str | None:
    """`address` normalised as the member's own is stored; None if it is no address at all."""
    try:
        if channel is Channel.EMAIL:
            return normalise_email(address)
        return normalise_phone(address.removeprefix("whatsapp:"))
    except ValidationFailed:
        return None


def _appointment_slots_txn(conn: Txn, booklet_id: bytes, req: SendRequest
                           ) -> dict[str, SlotValue]:
    """The typed slots of an appointment notice: its start (date, time) and, for a reminder,
    its cancel code. Nothing else of the appointment travels."""
    assert req.appointment_id is not None
    appointment = appointment_store.get_appointment_txn(conn, req.appointment_id)
    if appointment is None or appointment.booklet_id != booklet_id:
        raise NotFound("No such appointment.")
    slots: dict[str, SlotValue] = {"date": appointment.start_ms, "time": appointment.start_ms}
    if req.kind is NoticeKind.REMINDER:
        slots["code"] = appointment.cancel_code
    return slots


def whatsapp_address(address: str) -> str:
    """`whatsapp:+358…` for a member's E.164 number (an address already prefixed is kept)."""
    return address if channel_policy.is_whatsapp_address(address) else f"whatsapp:{address}"


async def problems(deps: NoticeDeps, session: Session, limit: int = 100) -> list[NoticeView]:
    """Notices of the therapist's booklets that did not, or may not, have reached the family as
    meant: failed, undelivered, ambiguous, reconciled, duplicate_suspected, expired (DESIGN:
    therapists are told)."""
    if session.role is not Role.THERAPIST:
        raise Forbidden("Only therapists see delivery problems.")
    return await deps.db.read(functools.partial(
        store.problems_for_therapist_txn, account_id=session.account_id, limit=limit))


async def booklet_notices(deps: NoticeDeps, session: Session, booklet_id: bytes
                          ) -> list[NoticeView]:
    def txn(conn: Txn) -> list[NoticeView]:
        if require_member_txn(conn, booklet_id, session) is not Role.THERAPIST:
            raise Forbidden("Only the booklet's therapist sees its notices.")
        return store.notices_for_booklet_txn(conn, booklet_id)

    return await deps.db.read(txn)


async def status_callback(deps: NoticeDeps, sid: str, status: str, error_code: int | None
                          ) -> None:
    """A provider status callback moves the notice forward (never backward)."""
    now = deps.clock.now_ms()

    await deps.db.write(lambda conn: outbox.apply_status_txn(conn, sid, status, error_code, now))


async def on_entry_posted(deps: NoticeDeps, booklet_id: bytes, author_id: bytes,
                          readers: list[bytes]) -> int:
    """Queue "you have a new message" pings: at most one per person per interval."""
    if not deps.ping_enabled:
        return 0
    now = deps.clock.now_ms()
    bucket = now // deps.ping_interval_ms

    def txn(conn: Txn) -> int:
        contacts = store.booklet_contacts_txn(
            conn, deps.vault, booklet_id, ("guardian", "caregiver", "therapist"))
        queued = 0
        link = f"{deps.public_base_url}/"
        for c in contacts:
            if c.account_id == author_id or c.account_id not in readers:
                continue
            last = store.last_notice_ms_txn(conn, c.account_id, NoticeKind.NEW_ENTRY_PING)
            if last and now - last < deps.ping_interval_ms:
                continue
            channel, address = ((Channel.SMS, c.phone) if c.phone else
                                (Channel.EMAIL, c.email) if c.email and deps.email_enabled
                                else (None, None))
            if channel is None or address is None:
                continue
            key = f"ping:{c.account_id.hex()}:{bucket}"
            queued += store.enqueue_txn(conn, deps.vault, NewNotice(
                key, channel, address, NoticeKind.NEW_ENTRY_PING, c.language, {"link": link},
                not_before(deps, NoticeKind.NEW_ENTRY_PING, now), c.account_id, booklet_id,
            ), now)
        return queued

    return await deps.db.write(txn)
