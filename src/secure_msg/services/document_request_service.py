"""Document requests (issue 17, item 2; model/document_requests.py): a guardian asks, the
therapist sees the open requests of a booklet and of her whole caseload, and the document
entry she posts names the request it fulfils (`fulfils_request` on the entry post, a plaintext
field like `blob_ids`). Fulfilling marks the request done inside the entry's own transaction
and queues the family's neutral "you have a new message" notice there too, so the entry, the
request and the notice commit together or not at all.
"""

from __future__ import annotations

from datetime import date

from secure_msg.errors import (
    DocRequestUnknown,
    Forbidden,
    NotFound,
    TooManyOpenRequests,
    ValidationFailed,
)
from secure_msg.model.access_log import Access, booklet_target
from secure_msg.model.accounts import Session
from secure_msg.model.channel_policy import Channel
from secure_msg.model.document_requests import (
    DOCUMENT_ENTRY_KIND,
    MAX_OPEN_PER_BOOKLET,
    DocumentRequest,
    RequestKind,
    RequestStatus,
    due_problem,
)
from secure_msg.model.notice_templates import NoticeKind
from secure_msg.model.notices import NewNotice
from secure_msg.model.roles import Role
from secure_msg.services.booklet_service import require_member_txn
from secure_msg.services.notice_service import NoticeDeps, family_txn, not_before
from secure_msg.storage import audit as audit_store
from secure_msg.storage import booklet_lifecycle as lifecycle_store
from secure_msg.storage import document_requests as store
from secure_msg.storage import notices as notice_store
from secure_msg.storage.txn import Txn

Deps = NoticeDeps  # the database, vault, clock and rng, and how to reach the family


def _audit_txn(conn: Txn, deps: Deps, session_id: bytes, action: Access, booklet_id: bytes,
               detail: dict[str, str | int]) -> None:
    audit_store.append_audit_txn(conn, at_ms=deps.clock.now_ms(),
                                 actor=f"account:{session_id.hex()}", action=action,
                                 target=booklet_target(booklet_id), detail=detail)


def _existing_txn(conn: Txn, booklet_id: bytes, request_id: bytes) -> DocumentRequest:
    request = store.get_txn(conn, booklet_id, request_id)
    if request is None:
        raise NotFound("No such document request in this booklet.")
    return request


async def create(deps: Deps, session: Session, booklet_id: bytes, kind: RequestKind,
                 due: date | None) -> DocumentRequest:
    """A guardian asks for a document. Guardians only: they hold the right to the child's
    records; a caregiver (daycare) or the therapist herself has no reason to ask."""
    if (problem := due_problem(due)) is not None:
        raise ValidationFailed(problem, errors=[{"field": "due"}])

    def txn(conn: Txn) -> DocumentRequest:
        role = require_member_txn(conn, booklet_id, session)
        if role is not Role.GUARDIAN:
            raise Forbidden("Only a guardian of the booklet can ask for a document.")
        lifecycle_store.require_open_txn(conn, booklet_id)
        if store.open_count_txn(conn, booklet_id) >= MAX_OPEN_PER_BOOKLET:
            raise TooManyOpenRequests(f"At most {MAX_OPEN_PER_BOOKLET} open requests.")
        request = DocumentRequest(deps.rng(16), booklet_id, session.account_id, kind,
                                  RequestStatus.OPEN, deps.clock.now_ms(), due, None, None, None)
        store.insert_txn(conn, request)
        detail: dict[str, str | int] = {"request": request.id.hex(), "kind": kind.value}
        _audit_txn(conn, deps, session.account_id, Access.DOCUMENT_REQUESTED, booklet_id, detail)
        return request

    return await deps.db.write(txn)


async def list_for_booklet(deps: Deps, session: Session, booklet_id: bytes, *,
                           open_only: bool) -> list[DocumentRequest]:
    """Every member sees the booklet's requests (the same metadata as its appointments)."""

    def txn(conn: Txn) -> list[DocumentRequest]:
        require_member_txn(conn, booklet_id, session)
        return store.for_booklet_txn(conn, booklet_id, open_only=open_only)

    return await deps.db.read(txn)


async def list_for_therapist(deps: Deps, session: Session) -> list[DocumentRequest]:
    """The open requests of every booklet the therapist is a member of: her desk."""
    if session.role is not Role.THERAPIST:
        raise Forbidden("Only a therapist has a caseload of document requests.")
    return await deps.db.read(lambda conn: store.open_for_therapist_txn(conn, session.account_id))


async def set_due(deps: Deps, session: Session, booklet_id: bytes, request_id: bytes,
                  due: date | None) -> DocumentRequest:
    """A guardian moves (or clears) an open request's due day."""
    if (problem := due_problem(due)) is not None:
        raise ValidationFailed(problem, errors=[{"field": "due"}])

    def txn(conn: Txn) -> DocumentRequest:
        role = require_member_txn(conn, booklet_id, session)
        request = _existing_txn(conn, booklet_id, request_id)
        if role is not Role.GUARDIAN:
            raise Forbidden("Only a guardian of the booklet can change a request.")
        lifecycle_store.require_open_txn(conn, booklet_id)
        if not store.set_due_txn(conn, booklet_id, request_id, due):
            store.close_txn(conn, request, RequestStatus.OPEN, by=session.account_id,
                            now_ms=0)  # not open: raises DocRequestNotOpen
        changed = store.get_txn(conn, booklet_id, request_id)
        assert changed is not None
        return changed

    return await deps.db.write(txn)


async def withdraw(deps: Deps, session: Session, booklet_id: bytes, request_id: bytes
                   ) -> DocumentRequest:
    """A guardian (no longer needed) or the therapist (will not be written) withdraws it."""

    def txn(conn: Txn) -> DocumentRequest:
        role = require_member_txn(conn, booklet_id, session)
        request = _existing_txn(conn, booklet_id, request_id)
        if role not in (Role.GUARDIAN, Role.THERAPIST):
            raise Forbidden("Only a guardian or the therapist can withdraw a request.")
        lifecycle_store.require_open_txn(conn, booklet_id)
        now = deps.clock.now_ms()
        store.close_txn(conn, request, RequestStatus.WITHDRAWN, by=session.account_id,
                        now_ms=now)
        _audit_txn(conn, deps, session.account_id, Access.DOCUMENT_REQUEST_WITHDRAWN,
                   booklet_id, {"request": request_id.hex()})
        changed = store.get_txn(conn, booklet_id, request_id)
        assert changed is not None
        return changed

    return await deps.db.write(txn)


def check_fulfil(role: Role, entry_kind: int) -> None:
    """Before any transaction: only the therapist's document entry fulfils a request."""
    if role is not Role.THERAPIST:
        raise Forbidden("Only the booklet's therapist fulfils a document request.")
    if entry_kind != DOCUMENT_ENTRY_KIND:
        raise ValidationFailed("Only a document entry fulfils a document request.",
                               errors=[{"field": "fulfils_request"}])


def fulfil_txn(conn: Txn, deps: Deps, booklet_id: bytes, request_id: bytes, author_id: bytes,
               seq: int, readers: list[bytes]) -> None:
    """Inside the entry post's transaction, after the entry row: mark the request done by
    entry `seq` and queue the family's neutral notice. Raises (and the whole post rolls back)
    when the id is no request of this booklet or the request is no longer open."""
    request = store.get_txn(conn, booklet_id, request_id)
    if request is None:
        raise DocRequestUnknown(errors=[{"field": "fulfils_request"}])
    now = deps.clock.now_ms()
    store.close_txn(conn, request, RequestStatus.DONE, by=author_id, now_ms=now, entry_seq=seq)
    _audit_txn(conn, deps, author_id, Access.DOCUMENT_REQUEST_DONE, booklet_id,
               {"request": request_id.hex(), "seq": seq})
    for notice in family_notices_txn(conn, deps, booklet_id, request_id, readers):
        notice_store.enqueue_txn(conn, deps.vault, notice, now)


def family_notices_txn(conn: Txn, deps: Deps, booklet_id: bytes, request_id: bytes,
                       readers: list[bytes]) -> list[NewNotice]:
    """One neutral notice per guardian who can read the new entry: the new-entry ping's text
    ("you have a new message" and the service's address), never a word of what was written.
    SMS when the guardian has a number, e-mail otherwise (when e-mail is on). Keyed by the
    request, so a retried transaction queues nothing twice."""
    now = deps.clock.now_ms()
    link = f"{deps.public_base_url.rstrip('/')}/"

    def pick(phone: str | None, email: str | None) -> tuple[Channel, str] | None:
        if phone:
            return Channel.SMS, phone
        return (Channel.EMAIL, email) if email and deps.email_enabled else None

    notices = []
    for c in family_txn(conn, deps, booklet_id):
        if c.account_id not in readers or (target := pick(c.phone, c.email)) is None:
            continue
        notices.append(NewNotice(
            f"docreq:{request_id.hex()}:{c.account_id.hex()}", target[0], target[1],
            NoticeKind.NEW_ENTRY_PING, c.language, {"link": link},
            not_before(deps, NoticeKind.NEW_ENTRY_PING, now), c.account_id, booklet_id))
    return notices
