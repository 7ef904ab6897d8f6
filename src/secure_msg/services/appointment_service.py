"""Appointments and therapy periods: schedule, cancel, mark, count (DESIGN §3).

Cancellations queue their notices in the same transaction: the therapist cancelling queues one
SMS per guardian; a family cancelling (API, SMS or phone) queues a confirmation to the other
guardians and an alert to the therapist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from secure_msg.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from secure_msg.model.accounts import Session
from secure_msg.model.appointments import (
    Appointment,
    AppointmentStatus,
    Payer,
    Period,
    PeriodSummary,
    is_late,
    new_cancel_code,
)
from secure_msg.model.notice_templates import NoticeKind
from secure_msg.model.notices import SlotValue
from secure_msg.model.roles import Role
from secure_msg.services.booklet_service import require_member_txn
from secure_msg.services.live import APPOINTMENTS, Hub, ReaderEvent
from secure_msg.services.notice_service import (
    NoticeDeps,
    enqueue_all_txn,
    family_txn,
    sms_notices,
)
from secure_msg.storage import appointments as store
from secure_msg.storage import audit as audit_store
from secure_msg.storage import booklet_lifecycle as lifecycle_store
from secure_msg.storage import booklets as booklet_store
from secure_msg.storage import notices as notice_store
from secure_msg.storage.txn import Txn

MAX_DURATION_MIN = 8 * 60


@dataclass(frozen=True)
class AppointmentDeps:
    notices: NoticeDeps
    late_window_hours: int
    count_late: bool
    hub: Hub | None = None  # open pages hear of a cancellation at once (none in the CLI)


def _actor(session: Session) -> str:
    return f"account:{session.account_id.hex()}"


def _therapist_txn(conn: Txn, booklet_id: bytes, session: Session) -> None:
    if require_member_txn(conn, booklet_id, session) is not Role.THERAPIST:
        raise Forbidden("Only the booklet's therapist can do this.")
    lifecycle_store.require_open_txn(conn, booklet_id)  # every caller writes


async def schedule(
    deps: AppointmentDeps, session: Session, booklet_id: bytes, start_ms: int, duration_min: int
) -> Appointment:
    if not 5 <= duration_min <= MAX_DURATION_MIN:
        raise ValidationFailed("duration_minutes must be 5-480",
                               errors=[{"field": "duration_minutes"}])
    n = deps.notices
    appointment_id = n.rng(16)
    codes = [new_cancel_code(n.rng) for _ in range(20)]

    def txn(conn: Txn) -> tuple[Appointment, list[bytes]]:
        _therapist_txn(conn, booklet_id, session)
        code = next((c for c in codes if not store.code_in_use_txn(conn, c)), None)
        if code is None:  # pragma: no cover - 20 collisions in a row among 10 000 codes
            raise InvalidTransition("No free cancel code; try again.")
        a = Appointment(appointment_id, booklet_id, session.account_id, start_ms, duration_min,
                        AppointmentStatus.SCHEDULED, code, False, None)
        now = n.clock.now_ms()
        store.insert_appointment_txn(conn, a, now)
        audit_store.append_audit_txn(
            conn, at_ms=now, actor=_actor(session), action="appointment.scheduled",
            target=f"appointment:{appointment_id.hex()}",
            detail={"booklet": booklet_id.hex()},
        )
        return a, list(booklet_store.member_keys_txn(conn, booklet_id))

    scheduled, readers = await n.db.write(txn)
    _tell(deps, booklet_id, readers)
    return scheduled


def _tell(deps: AppointmentDeps, booklet_id: bytes, readers: list[bytes]) -> None:
    """Open pages of the booklet redraw its appointments: the therapist's other device and the
    family see a booking, a cancellation or an attendance mark without reloading."""
    if deps.hub is not None:
        deps.hub.notify(ReaderEvent(APPOINTMENTS, booklet_id), readers)


async def list_for_booklet(deps: AppointmentDeps, session: Session, booklet_id: bytes
                           ) -> list[Appointment]:
    def txn(conn: Txn) -> list[Appointment]:
        require_member_txn(conn, booklet_id, session)
        return store.appointments_for_booklet_txn(conn, booklet_id)

    return await deps.notices.db.read(txn)


def _get_txn(conn: Txn, booklet_id: bytes, appointment_id: bytes) -> Appointment:
    a = store.get_appointment_txn(conn, appointment_id)
    if a is None or a.booklet_id != booklet_id:
        raise NotFound("No such appointment.")
    return a


def family_cancel_txn(
    conn: Txn, deps: AppointmentDeps, a: Appointment, *, actor: str, via: str,
    canceller_id: bytes | None, now: int,
) -> None:
    """Cancel `a` for the family (late inside the window); alert the therapist, confirm to the
    other guardians. Raises InvalidTransition when it is no longer scheduled (the store checks
    the lifecycle), and nothing changes."""
    late = is_late(now, a.start_ms, deps.late_window_hours)
    if not store.set_status_txn(conn, a.id, AppointmentStatus.CANCELLED_BY_FAMILY, late=late,
                                via=via, now_ms=now):
        raise NotFound("No such appointment.")  # `a` was read in this transaction: unreachable
    n = deps.notices
    slots: dict[str, SlotValue] = {"date": a.start_ms, "time": a.start_ms}
    others = [c for c in family_txn(conn, n, a.booklet_id) if c.account_id != canceller_id]
    therapist = notice_store.account_contact_txn(conn, n.vault, a.therapist_id)
    notices = sms_notices(n, others, NoticeKind.CANCELLATION_CONFIRMED, slots,
                          f"confirmed:{a.id.hex()}", now, a.booklet_id)
    alert = {**slots, "code": a.cancel_code, "via": via}  # via: the channel, told truthfully
    notices += sms_notices(n, [therapist] if therapist else [], NoticeKind.FAMILY_CANCELLED_ALERT,
                           alert, f"alert:{a.id.hex()}", now, a.booklet_id)
    enqueue_all_txn(conn, n, notices, now)
    audit_store.append_audit_txn(
        conn, at_ms=now, actor=actor, action="appointment.cancelled_by_family",
        target=f"appointment:{a.id.hex()}", detail={"via": via, "late": late},
    )


async def cancel(deps: AppointmentDeps, session: Session, booklet_id: bytes,
                 appointment_id: bytes) -> Appointment:
    """The therapist cancels (each guardian gets one SMS) or a guardian cancels (API)."""
    n = deps.notices

    def txn(conn: Txn) -> tuple[Appointment, list[bytes]]:
        role = require_member_txn(conn, booklet_id, session)
        lifecycle_store.require_open_txn(conn, booklet_id)
        a = _get_txn(conn, booklet_id, appointment_id)
        now = n.clock.now_ms()
        if role is Role.THERAPIST:
            if not store.set_status_txn(conn, a.id, AppointmentStatus.CANCELLED_BY_THERAPIST,
                                        via="api", now_ms=now):
                raise NotFound("No such appointment.")  # read above in this transaction
            enqueue_all_txn(conn, n, sms_notices(
                n, family_txn(conn, n, booklet_id), NoticeKind.CANCELLED_BY_THERAPIST,
                {"date": a.start_ms, "time": a.start_ms}, f"cancelled:{a.id.hex()}", now,
                booklet_id), now)
            audit_store.append_audit_txn(
                conn, at_ms=now, actor=_actor(session), action="appointment.cancelled_by_therapist",
                target=f"appointment:{a.id.hex()}")
        elif role is Role.GUARDIAN:
            family_cancel_txn(conn, deps, a, actor=_actor(session), via="api",
                              canceller_id=session.account_id, now=now)
        else:
            raise Forbidden("Only the therapist or a guardian can cancel.")
        readers = list(booklet_store.member_keys_txn(conn, booklet_id))
        return _get_txn(conn, booklet_id, appointment_id), readers

    cancelled, readers = await n.db.write(txn)
    _tell(deps, booklet_id, readers)
    return cancelled


async def mark(deps: AppointmentDeps, session: Session, booklet_id: bytes, appointment_id: bytes,
               status: AppointmentStatus) -> Appointment:
    if status not in (AppointmentStatus.ATTENDED, AppointmentStatus.NO_SHOW):
        raise ValidationFailed("status must be attended or no_show", errors=[{"field": "status"}])
    n = deps.notices

    def txn(conn: Txn) -> tuple[Appointment, list[bytes]]:
        _therapist_txn(conn, booklet_id, session)
        a = _get_txn(conn, booklet_id, appointment_id)
        now = n.clock.now_ms()
        if not store.set_status_txn(conn, a.id, status, now_ms=now):
            raise NotFound("No such appointment.")  # read above in this transaction
        audit_store.append_audit_txn(
            conn, at_ms=now, actor=_actor(session), action=f"appointment.{status.value}",
            target=f"appointment:{a.id.hex()}")
        return (_get_txn(conn, booklet_id, appointment_id),
                list(booklet_store.member_keys_txn(conn, booklet_id)))

    marked, readers = await n.db.write(txn)
    _tell(deps, booklet_id, readers)
    return marked


# -- periods -------------------------------------------------------------------------------------


async def set_period(deps: AppointmentDeps, session: Session, booklet_id: bytes, start: date,
                     end: date, granted: int, payer: Payer) -> Period:
    if end <= start or not 1 <= granted <= 500:
        raise ValidationFailed("Need start < end and 1-500 sessions granted.",
                               errors=[{"field": "end"}, {"field": "sessions_granted"}])
    n = deps.notices
    period = Period(n.rng(16), booklet_id, start, end, granted, payer)

    def txn(conn: Txn) -> list[bytes]:
        _therapist_txn(conn, booklet_id, session)
        now = n.clock.now_ms()
        store.insert_period_txn(conn, period, now)
        audit_store.append_audit_txn(
            conn, at_ms=now, actor=_actor(session), action="period.set",
            target=f"booklet:{booklet_id.hex()}", detail={"granted": granted})
        return list(booklet_store.member_keys_txn(conn, booklet_id))

    _tell(deps, booklet_id, await n.db.write(txn))
    return period


def summary_txn(conn: Txn, deps: AppointmentDeps, period: Period
                ) -> PeriodSummary:
    zone = deps.notices.quiet.zone
    start_ms = int(datetime.combine(period.start_date, time(0), tzinfo=zone).timestamp() * 1000)
    end_ms = int(datetime.combine(period.end_date, time(23, 59, 59), tzinfo=zone)
                 .timestamp() * 1000)
    attended, late = store.session_counts_txn(conn, period.booklet_id, start_ms, end_ms)
    return PeriodSummary(period, attended, late, deps.count_late)


async def period_summary(deps: AppointmentDeps, session: Session, booklet_id: bytes
                         ) -> PeriodSummary:
    def txn(conn: Txn) -> PeriodSummary:
        require_member_txn(conn, booklet_id, session)
        period = store.current_period_txn(conn, booklet_id)
        if period is None:
            raise NotFound("No therapy period recorded.")
        return summary_txn(conn, deps, period)

    return await deps.notices.db.read(txn)
