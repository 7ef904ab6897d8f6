"""Posting and reading encrypted entries (protocol §4.3, DESIGN §4 "Server verifies").

The signature check runs before the write transaction (it is the expensive part); the
transaction then re-checks that nothing it depended on moved: membership (members_version),
the chain head (sequence and prev_hash) and the entry id.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from secure_msg.crypto import envelope as protocol_envelope
from secure_msg.crypto.errors import ProtocolError
from secure_msg.errors import (
    DuplicateEntry,
    Forbidden,
    MembershipChanged,
    NotFound,
    PayloadTooLarge,
    ProtocolRejected,
    SequenceConflict,
    ValidationFailed,
)
from secure_msg.model.accounts import Session
from secure_msg.model.booklets import THERAPIST_KINDS, StoredEntry
from secure_msg.model.entry_json import entry_text
from secure_msg.model.roles import Role
from secure_msg.services import (
    access_log,
    blob_service,
    caregiver_membership,
    document_request_service,
)
from secure_msg.services.account_service import Authenticate
from secure_msg.services.audit_batcher import AuditBatcher
from secure_msg.services.booklet_service import BookletDeps, require_member_txn
from secure_msg.services.live import EntryEvent, Hub
from secure_msg.services.notice_service import NoticeDeps
from secure_msg.storage import accounts as account_store
from secure_msg.storage import audit as audit_store
from secure_msg.storage import booklet_lifecycle as lifecycle_store
from secure_msg.storage import booklets as store
from secure_msg.storage.txn import Txn

MAX_PAGE = 200
# An entry's created_at is its author's clock: signed, but the server cannot know it is true.
# It is kept sane (protocol §4.3): not before the service existed, nor more than a day ahead of
# the server (a device clock a little fast is fine; a far-future date misleads every reader).
CREATED_AT_MIN_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z
CREATED_AT_MAX_AHEAD_MS = 24 * 3_600_000


@dataclass(frozen=True)
class EntryDeps:
    booklets: BookletDeps
    hub: Hub
    max_entry_bytes: int
    fetch_audit: AuditBatcher
    max_blobs_per_entry: int = 20  # [blobs] max_per_entry
    # Document requests an entry fulfils (services/document_request_service.py): how the
    # family's neutral notice is queued. None: `fulfils_request` is refused.
    requests: NoticeDeps | None = None


@dataclass(frozen=True)
class Posted:
    seq: int
    entry_id: bytes
    entry_hash: bytes




@dataclass(frozen=True)
class _Context:
    session: Session
    role: Role
    identity_key: bytes
    members_version: int
    recipients: dict[bytes, bytes]


def _context_txn(
    conn: Txn, booklet_id: bytes, auth: Authenticate, size: int, max_size: int
) -> _Context:
    session = auth(conn)
    if size > max_size:
        raise PayloadTooLarge(f"An entry may be at most {max_size} bytes.")
    role = require_member_txn(conn, booklet_id, session)
    lifecycle_store.require_open_txn(conn, booklet_id)
    identity = account_store.identity_key_txn(conn, session.account_id)
    version, recipients = store.recipients_txn(conn, booklet_id)
    return _Context(session, role, identity, version, recipients)


async def post(deps: EntryDeps, auth: Authenticate, booklet_id: bytes, envelope: bytes,
               blob_ids: Sequence[bytes] = (), fulfils: bytes | None = None) -> Posted:
    """Authenticate, check membership and read the chain's context in one read round trip,
    verify outside any transaction, then re-check and insert in the write transaction, which
    also attaches the uploads the entry lists (`blob_ids`, services/blob_service.py) and marks
    done the document request it names (`fulfils`, services/document_request_service.py)."""
    db, clock = deps.booklets.db, deps.booklets.clock
    await caregiver_membership.expire_if_due(deps.booklets, deps.hub)
    ctx = await db.read_now(functools.partial(
        _context_txn, booklet_id=booklet_id, auth=auth, size=len(envelope),
        max_size=deps.max_entry_bytes,
    ))
    blob_service.check_list(blob_ids, deps.max_blobs_per_entry)
    session = ctx.session
    try:
        verified = protocol_envelope.verify_entry(
            envelope, author_identity_key=ctx.identity_key, booklet_id=booklet_id,
            author_id=session.account_id, recipients=ctx.recipients,
        )
    except ProtocolError as exc:
        await _audit_refusal(deps, session, booklet_id, exc.code)
        raise ProtocolRejected(exc.code) from exc
    header = verified.header
    if header.kind in THERAPIST_KINDS and ctx.role is not Role.THERAPIST:
        raise Forbidden("Only the booklet's therapist can post this kind of entry.")
    requests = deps.requests
    if fulfils is not None:
        if requests is None:
            raise ValidationFailed("Document requests are not served here.")
        document_request_service.check_fulfil(ctx.role, header.kind)
    if not CREATED_AT_MIN_MS <= header.created_at <= clock.now_ms() + CREATED_AT_MAX_AHEAD_MS:
        raise ValidationFailed(
            "created_at must be after 2020-01-01 and at most a day ahead of the server's clock.",
            errors=[{"field": "created_at"}])
    readers = sorted(ctx.recipients)

    def txn(conn: Txn) -> Posted:
        booklet = store.member_booklet_txn(conn, booklet_id, session.account_id)
        if booklet is None:
            raise Forbidden("You are no longer a member of this booklet.")
        lifecycle_store.require_open_txn(conn, booklet_id)  # closed since the read above
        if booklet.members_version != ctx.members_version:
            raise MembershipChanged()
        if header.sequence != booklet.last_seq + 1 or header.prev_hash != booklet.last_hash:
            raise SequenceConflict(
                f"The next sequence is {booklet.last_seq + 1}.", head=booklet.last_seq
            )
        now = clock.now_ms()
        entry = StoredEntry(
            booklet_id, header.sequence, header.entry_id, session.account_id, header.kind,
            header.created_at, now, verified.entry_hash, envelope,
        )
        # Written once here so that no page read writes it again (model/entry_json.py).
        if not store.insert_entry_txn(conn, entry, readers, text=entry_text(entry)):
            raise DuplicateEntry()
        blob_service.attach_txn(conn, booklet_id, session.account_id, header.sequence, blob_ids)
        if fulfils is not None and requests is not None:
            document_request_service.fulfil_txn(conn, requests, booklet_id, fulfils,
                                                session.account_id, header.sequence, readers)
        audit_store.append_audit_txn(
            conn, at_ms=now, actor=f"account:{session.account_id.hex()}", action="entry.posted",
            target=f"booklet:{booklet_id.hex()}",
            detail={"seq": header.sequence, "kind": header.kind, "bytes": len(envelope)},
        )
        return Posted(header.sequence, header.entry_id, verified.entry_hash)

    posted = await db.write(txn)
    deps.hub.publish(EntryEvent(booklet_id, posted.seq, header.kind, session.account_id), readers)
    return posted


async def _audit_refusal(deps: EntryDeps, session: Session, booklet_id: bytes, code: str) -> None:
    await deps.booklets.db.write(functools.partial(
        audit_store.append_audit_txn, at_ms=deps.booklets.clock.now_ms(),
        actor=f"account:{session.account_id.hex()}", action="entry.refused",
        target=f"booklet:{booklet_id.hex()}", detail={"protocol_error": code},
    ))


async def read(
    deps: EntryDeps, auth: Authenticate, booklet_id: bytes, *, after: int = 0,
    before: int | None = None, limit: int = 50,
) -> tuple[list[tuple[int, str]], int]:
    """(seq, API JSON) of the entries this member holds keys for, and the booklet's head
    sequence: authentication, membership and the page in one read round trip."""

    refused: list[Session] = []

    def txn(conn: Txn) -> tuple[Session, list[tuple[int, str]], int]:
        session = auth(conn)
        if after < 0 or (before is not None and before < 1) or not 1 <= limit <= MAX_PAGE:
            raise ValidationFailed(f"since ≥ 0, before ≥ 1 and 1 ≤ limit ≤ {MAX_PAGE}.")
        try:
            require_member_txn(conn, booklet_id, session)
        except NotFound:
            refused.append(session)  # for the operator's audit (not the members' log)
            raise
        rows = store.entry_texts_for_txn(
            conn, booklet_id, session.account_id, after=after, before=before, limit=limit
        )
        unwritten = [seq for seq, text in rows if text is None]
        written = store.entries_at_txn(conn, booklet_id, unwritten) if unwritten else {}
        page = [(seq, text if text is not None else entry_text(written[seq]))
                for seq, text in rows]
        booklet = store.get_booklet_txn(conn, booklet_id)
        return session, page, booklet.last_seq if booklet else 0

    await caregiver_membership.expire_if_due(deps.booklets, deps.hub)
    # On the event loop's own connection: an indexed page costs the loop ≈ 5.5 µs per entry
    # (≈ 0.3 ms for 50, ≈ 1.1 ms for the largest page of 200), while the round trip to a reader
    # thread cost ≈ 0.6 ms of CPU per page under load in GIL hand-overs, and tail latency
    # (docs/performance.md, "Reading").
    # Fetches are audited without holding the response for a commit, and batched: see
    # services/audit_batcher.py for why and what a crash can lose.
    try:
        session, page, head = await deps.booklets.db.read_now(txn)
    except NotFound:
        if refused:
            access_log.record_fetch_refused(deps.fetch_audit, deps.booklets.clock.now_ms(),
                                            refused[0].account_id, booklet_id)
        raise
    if page:
        access_log.record_fetch(deps.fetch_audit, deps.booklets.clock.now_ms(),
                                session.account_id, booklet_id, [seq for seq, _ in page])
    return page, head


async def head(deps: EntryDeps, session: Session, booklet_id: bytes) -> tuple[int, bytes, int]:
    """(last sequence, last entry hash, members version): what a client needs to seal the next."""
    await caregiver_membership.expire_if_due(deps.booklets, deps.hub)

    def txn(conn: Txn) -> tuple[int, bytes, int]:
        require_member_txn(conn, booklet_id, session)
        booklet = store.get_booklet_txn(conn, booklet_id)
        assert booklet is not None
        return booklet.last_seq, booklet.last_hash, booklet.members_version

    return await deps.booklets.db.read(txn)
