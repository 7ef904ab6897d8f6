"""Sharing a document with someone outside the booklet (issue 17 item 3, docs/protocol.md
§4.8): create, open, fetch the file, list, withdraw.

The sharer's device seals the file's attachment record under a key from a link secret (only in
the link's fragment) and an 8-digit code; it sends the server the sealed record, a verifier of
the access token, the recipient's mobile number and the code. The server sends the code by SMS
through the outbox (a neutral template, the code sealed in the notice's slots) and stores the
rest: it can check a token and count wrong ones, never open the record (no link secret).

The recipient's page opens the share with the token (`open_share`: counted, at most
`max_opens` times, locked after MAX_FAILURES wrong tokens), then fetches the blob with the same
token within the download window (`open_blob`). Every open and refusal is in the audit chain:
`share.created`, `share.opened`, `share.revoked` in the booklet's access log for its members,
`share.open_refused` for the operator only.
"""

from __future__ import annotations

from dataclasses import dataclass

from secure_msg.contacts import require_mobile
from secure_msg.crypto import share as share_crypto
from secure_msg.crypto.errors import ProtocolError
from secure_msg.errors import (
    ClinicalContentRefused,
    Forbidden,
    NotFound,
    ProtocolRejected,
    SecureMsgError,
    ShareCodeWrong,
    ShareExists,
    ShareExpired,
    ShareForbidden,
    ShareLocked,
    ShareRevoked,
    ShareUsed,
    ValidationFailed,
)
from secure_msg.model import channel_policy
from secure_msg.model import shares as rules
from secure_msg.model.access_log import Access, Refusal, booklet_target
from secure_msg.model.accounts import Session
from secure_msg.model.channel_policy import Channel, ContentClass
from secure_msg.model.notice_templates import Language, NoticeKind
from secure_msg.model.notices import NewNotice
from secure_msg.model.shares import Share, ShareState
from secure_msg.services.booklet_service import require_member_txn
from secure_msg.services.notice_service import NoticeDeps, not_before
from secure_msg.storage import audit as audit_store
from secure_msg.storage import blobs as blob_store
from secure_msg.storage import notices as notice_store
from secure_msg.storage import shares as store
from secure_msg.storage.blob_store import BlobBody, BlobStore
from secure_msg.storage.txn import Txn

LIST_LIMIT = 200


@dataclass(frozen=True)
class ShareDeps:
    notices: NoticeDeps  # db, vault, clock, rng, quiet hours
    files: BlobStore


@dataclass(frozen=True)
class NewShareRequest:
    share_id: bytes
    entry_seq: int
    blob_id: bytes
    sealed: bytes
    verifier: bytes
    phone: str
    code: str
    language: Language
    days: int = rules.DEFAULT_DAYS
    max_opens: int = rules.DEFAULT_OPENS


def _account(account_id: bytes) -> str:
    return f"account:{account_id.hex()}"


def _outsider(share_id: bytes) -> str:
    """The actor of an open: the share's holder, who has no account (the detail names the
    share)."""
    return "anonymous"


def _check(req: NewShareRequest) -> str:
    """Everything about the request that needs no database; returns the E.164 number."""
    if not 1 <= req.days <= rules.MAX_DAYS:
        raise ValidationFailed(f"days must be 1 to {rules.MAX_DAYS}.", errors=[{"field": "days"}])
    if not 1 <= req.max_opens <= rules.MAX_OPENS:
        raise ValidationFailed(f"max_opens must be 1 to {rules.MAX_OPENS}.",
                               errors=[{"field": "max_opens"}])
    if len(req.share_id) != share_crypto.SHARE_ID_LEN:
        raise ValidationFailed("id must be 16 bytes.", errors=[{"field": "id"}])
    if len(req.verifier) != 32:
        raise ValidationFailed("verifier must be 32 bytes.", errors=[{"field": "verifier"}])
    if len(req.code) != share_crypto.CODE_DIGITS or not req.code.isascii() \
            or not req.code.isdigit():
        raise ValidationFailed("code must be 8 digits.", errors=[{"field": "code"}])
    try:
        sealed_for = share_crypto.parse_sealed(req.sealed)
    except ProtocolError as exc:
        raise ProtocolRejected(exc.code) from exc
    if sealed_for != req.share_id:
        raise ProtocolRejected("share-decrypt-failed")  # sealed for another share
    return require_mobile(req.phone)


async def create(deps: ShareDeps, session: Session, booklet_id: bytes,
                 req: NewShareRequest) -> Share:
    """A therapist or guardian shares one file of an entry they can read. The SMS with the code
    is queued in the same transaction (both or neither)."""
    phone = _check(req)
    n = deps.notices
    decision = channel_policy.decide(ContentClass.NOTICE, Channel.SMS,
                                     whatsapp_notices_enabled=n.whatsapp_enabled, address=phone)
    if not decision.allowed:
        raise ClinicalContentRefused(decision.detail, reason=str(decision.reason))

    def txn(conn: Txn) -> Share:
        role = require_member_txn(conn, booklet_id, session)
        if role not in rules.SHARER_ROLES:
            raise ShareForbidden()
        blob = blob_store.get_blob_txn(conn, req.blob_id)
        if (blob is None or blob.booklet_id != booklet_id or blob.entry_seq != req.entry_seq
                or not blob_store.can_fetch_txn(conn, blob, session.account_id)):
            raise NotFound("No such attachment in this entry.")
        now = n.clock.now_ms()
        s = Share(req.share_id, booklet_id, req.blob_id, req.entry_seq, session.account_id,
                  req.sealed, req.verifier, rules.phone_hint(phone), now,
                  now + req.days * rules.DAY_MS, req.max_opens, 0, 0, None, None, None)
        if not store.insert_txn(conn, s):
            raise ShareExists()
        # The code now, not in quiet hours' morning: the recipient is waiting for it.
        notice = NewNotice(f"share:{s.id.hex()}", Channel.SMS, phone, NoticeKind.SHARE_CODE,
                           req.language, {"code": req.code, "date": s.expires_at_ms},
                           not_before(n, NoticeKind.SHARE_CODE, now), None, booklet_id)
        notice_store.enqueue_txn(conn, n.vault, notice, now)
        audit_store.append_audit_txn(
            conn, at_ms=now, actor=_account(session.account_id),
            action=Access.SHARE_CREATED.value, target=booklet_target(booklet_id),
            detail={"share": s.id.hex(), "seq": s.entry_seq, "blob": s.blob_id.hex(),
                    "expires_at_ms": s.expires_at_ms, "max_opens": s.max_opens,
                    "to": f"…{s.phone_hint}"})
        return s

    return await n.db.write(txn)


_GONE: dict[ShareState, type[SecureMsgError]] = {
    ShareState.USED: ShareUsed, ShareState.EXPIRED: ShareExpired,
    ShareState.REVOKED: ShareRevoked, ShareState.LOCKED: ShareLocked,
}


def _refuse_txn(conn: Txn, now: int, s: Share, reason: str) -> None:
    audit_store.append_audit_txn(
        conn, at_ms=now, actor=_outsider(s.id), action=Refusal.SHARE_OPEN_REFUSED.value,
        target=booklet_target(s.booklet_id),
        detail={"share": s.id.hex(), "reason": reason, "failures": s.failures})


def _token_txn(conn: Txn, now: int, s: Share, token: bytes) -> SecureMsgError | None:
    """Count a wrong token (the share locks at MAX_FAILURES); the error to answer, or None."""
    if share_crypto.token_matches(token, s.verifier):
        return None
    store.count_failure_txn(conn, s.id)
    failed = store.get_txn(conn, s.id)
    assert failed is not None
    _refuse_txn(conn, now, failed, "wrong-code")
    if failed.state(now) is ShareState.LOCKED:
        return ShareLocked()
    return ShareCodeWrong(attempts_left=failed.attempts_left)


def _get_or_404(conn: Txn, share_id: bytes) -> Share:
    s = store.get_txn(conn, share_id)
    if s is None:
        raise NotFound("No such share.")
    return s


async def open_share(deps: ShareDeps, share_id: bytes, token: bytes) -> Share:
    """The recipient's open: the sealed record, once the token is right and the share open.
    Refusals are recorded (and a wrong token counted) before the error is answered."""
    n = deps.notices

    def txn(conn: Txn) -> Share | SecureMsgError:
        s = _get_or_404(conn, share_id)
        now = n.clock.now_ms()
        state = s.state(now)
        if state is not ShareState.OPEN:
            _refuse_txn(conn, now, s, state.value)
            return _GONE[state]()
        wrong = _token_txn(conn, now, s, token)
        if wrong is not None:
            return wrong
        store.count_open_txn(conn, s.id, now)
        audit_store.append_audit_txn(
            conn, at_ms=now, actor=_outsider(s.id), action=Access.SHARE_OPENED.value,
            target=booklet_target(s.booklet_id),
            detail={"share": s.id.hex(), "seq": s.entry_seq, "open": s.opens + 1,
                    "max_opens": s.max_opens})
        return s

    result = await n.db.write(txn)
    if isinstance(result, SecureMsgError):
        raise result
    return result


async def open_blob(deps: ShareDeps, share_id: bytes, token: bytes) -> BlobBody:
    """The file's blob, for the holder of the right token within DOWNLOAD_WINDOW_MS of an open
    (the same open: not counted again)."""
    n = deps.notices

    def txn(conn: Txn) -> Share | SecureMsgError:
        s = _get_or_404(conn, share_id)
        now = n.clock.now_ms()
        state = s.state(now)
        if state is ShareState.LOCKED:
            return ShareLocked()
        wrong = _token_txn(conn, now, s, token)
        if wrong is not None:
            return wrong
        if s.in_download_window(now):
            return s
        if state is ShareState.OPEN:
            return Forbidden("Open the share first.")
        _refuse_txn(conn, now, s, f"download-{state.value}")
        return _GONE[state]()

    result = await n.db.write(txn)
    if isinstance(result, SecureMsgError):
        raise result
    found = await n.db.read_now(lambda conn: blob_store.get_blob_txn(conn, result.blob_id))
    if found is None:  # the booklet was purged
        raise ShareExpired()
    return await deps.files.open(result.booklet_id, result.blob_id, found.size)


async def list_shares(deps: ShareDeps, session: Session, booklet_id: bytes) -> list[Share]:
    """The booklet's shares, newest first, for its members."""

    def txn(conn: Txn) -> list[Share]:
        require_member_txn(conn, booklet_id, session)
        return store.booklet_shares_txn(conn, booklet_id, LIST_LIMIT)

    return await deps.notices.db.read_now(txn)


async def revoke(deps: ShareDeps, session: Session, booklet_id: bytes, share_id: bytes) -> Share:
    """Withdraw a share: its sharer, or any therapist or guardian of the booklet. Withdrawing
    one withdrawn already changes nothing."""
    n = deps.notices

    def txn(conn: Txn) -> Share:
        role = require_member_txn(conn, booklet_id, session)
        s = store.get_txn(conn, share_id)
        if s is None or s.booklet_id != booklet_id:
            raise NotFound("No such share.")
        if s.sharer_id != session.account_id and role not in rules.REVOKER_ROLES:
            raise ShareForbidden("Only its sharer, a therapist or a guardian may withdraw it.")
        now = n.clock.now_ms()
        if store.revoke_txn(conn, share_id, session.account_id, now):
            audit_store.append_audit_txn(
                conn, at_ms=now, actor=_account(session.account_id),
                action=Access.SHARE_REVOKED.value, target=booklet_target(booklet_id),
                detail={"share": share_id.hex()})
        revoked = store.get_txn(conn, share_id)
        assert revoked is not None
        return revoked

    return await n.db.write(txn)
