"""The notice outbox, inbound webhook dedupe and SMS consent: the only SQL for them.

Addresses are sealed with the vault (purpose notices.address); slots hold only typed values
(times, short codes, links), never user-written text. Slots that carry a secret (the one-time
invitation link) are sealed too (purpose notices.slots) and, once the notice is sent, failed or
skipped, overwritten with a redacted marker, so a later copy of the database holds no usable
token.

Every UPDATE that moves a notice's status accepts only the prior statuses the lifecycle table
(model/notices.py TRANSITIONS) lets become its target; a call on a notice in any other status
changes nothing, as a late or repeated outcome must not.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from secure_msg.crypto.vault import Vault
from secure_msg.model.channel_policy import Channel
from secure_msg.model.lifecycle import sources
from secure_msg.model.notice_caps import MANUAL_KEY_PREFIX
from secure_msg.model.notice_templates import NoticeKind
from secure_msg.model.notices import (
    CALLBACK_STATUS,
    CLAIMABLE,
    FOUND,
    GIVEN_UP,
    MUST_RECONCILE,
    TRANSITIONS,
    UNCONFIRMED,
    VISIBLE_PROBLEMS,
    ClaimedNotice,
    Contact,
    NewNotice,
    NoticeStatus,
    NoticeView,
    OutboxFigures,
    SlotValue,
    callback_target,
    language_of,
)
from secure_msg.storage.accounts import EMAIL, PHONE
from secure_msg.storage.txn import Txn, is_sqlite

ADDRESS = "notices.address"
SLOTS = "notices.slots"
SEALED_PREFIX = "sealed:v1:"
REDACTED = "[redacted]"
# Slot values that must never be stored in the clear: the invitation link carries its token.
SECRET_SLOTS: dict[NoticeKind, frozenset[str]] = {
    NoticeKind.INVITATION: frozenset({"link"}),
    NoticeKind.SHARE_CODE: frozenset({"code"}),  # half of a share's key (§4.8)
}


def _sql_in(statuses: Iterable[NoticeStatus]) -> str:
    """`('a', 'b')`: enum values, never input, so written into the SQL as literals, as before."""
    return "(" + ", ".join(f"'{s.value}'" for s in sorted(statuses)) + ")"


# For each status, the WHERE condition an UPDATE to it must carry: only the prior statuses the
# lifecycle lets become it may move.
_MAY_BECOME = {s: f"status IN {_sql_in(sources(TRANSITIONS, s))}" for s in NoticeStatus}
# When a claimable notice is due: a queued one at its next attempt, a sending one once its
# worker's lease ran out. A KeyError here means the table gained a claimable status with no rule.
_DUE_AT = {NoticeStatus.QUEUED: "next_attempt_ms", NoticeStatus.AMBIGUOUS: "next_attempt_ms",
           NoticeStatus.SENDING: "claimed_until_ms"}
_CLAIM_DUE = " OR ".join(f"(status = '{s.value}' AND {_DUE_AT[s]} <= ?)"
                         for s in sorted(CLAIMABLE))


def _seal_slots(vault: Vault, kind: NoticeKind, slots: Mapping[str, SlotValue]) -> str:
    secret = SECRET_SLOTS.get(kind, frozenset())
    out: dict[str, SlotValue] = {}
    for name, value in slots.items():
        if name in secret:
            blob = vault.seal_text(SLOTS, json.dumps(value))
            value = SEALED_PREFIX + base64.b64encode(blob).decode("ascii")
        out[name] = value
    return json.dumps(out, sort_keys=True)


def _open_slots(vault: Vault, stored: str) -> dict[str, SlotValue]:
    slots: dict[str, SlotValue] = json.loads(stored)
    for name, value in slots.items():
        if isinstance(value, str) and value.startswith(SEALED_PREFIX):
            blob = base64.b64decode(value[len(SEALED_PREFIX):])
            slots[name] = json.loads(vault.open_text(SLOTS, blob))
    return slots


def _redact_slots_txn(conn: Txn, notice_id: int) -> None:
    """Overwrite secret slots of a notice that will not be sent again (sent, failed, skipped)."""
    row = conn.execute(
        "SELECT kind, slots FROM notices WHERE id = ?"  # noqa: S608
        f" AND status NOT IN {_sql_in(CLAIMABLE)}", (notice_id,),
    ).fetchone()
    if row is None:
        return
    try:
        secret = SECRET_SLOTS.get(NoticeKind(row[0]), frozenset())
    except ValueError:
        return
    if not secret:
        return
    slots = json.loads(row[1])
    redacted = {k: (REDACTED if k in secret else v) for k, v in slots.items()}
    conn.execute("UPDATE notices SET slots = ? WHERE id = ?",
                 (json.dumps(redacted, sort_keys=True), notice_id))


def enqueue_txn(conn: Txn, vault: Vault, n: NewNotice, now_ms: int) -> bool:
    """Queue `n` unless a notice with its dedupe key exists; True when queued."""
    cursor = conn.execute(
        "INSERT INTO notices (dedupe_key, recipient_id, booklet_id, channel,"
        " address_enc, kind, language, slots, status, not_before_ms, next_attempt_ms,"
        " created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (n.dedupe_key, n.recipient_id, n.booklet_id, n.channel.value,
         vault.seal_text(ADDRESS, n.address), n.kind.value, n.language.value,
         _seal_slots(vault, n.kind, n.slots), n.not_before_ms, n.not_before_ms, now_ms,
         now_ms),
    )
    return cursor.rowcount == 1


def notice_id_txn(conn: Txn, dedupe_key: str) -> int:
    """The id of the notice queued under `dedupe_key`."""
    row = conn.execute("SELECT id FROM notices WHERE dedupe_key = ?", (dedupe_key,)).fetchone()
    return int(row[0])


def claim_due_txn(
    conn: Txn, vault: Vault, now_ms: int, limit: int, lease_ms: int,
    channels: Sequence[str], owner: str | None = None,
) -> list[ClaimedNotice]:
    """Take up to `limit` due notices for `owner`: queued and ambiguous ones at their next
    attempt, and sending ones whose claim expired (their process is gone).

    PostgreSQL: one statement, its rows locked `FOR UPDATE SKIP LOCKED` (a row another open
    transaction holds is left to it): one round trip, however many are claimed. SQLite (no
    FOR UPDATE, no FROM table in RETURNING): a SELECT, then an UPDATE per row, in-process."""
    marks = ",".join("?" * len(channels))
    due = (f"channel IN ({marks}) AND ({_CLAIM_DUE})", (*channels, *[now_ms] * len(CLAIMABLE)))
    if not is_sqlite(conn):
        return _claim_due_pg(conn, vault, now_ms, limit, lease_ms, due, owner)
    sql = (
        "SELECT id, channel, address_enc, kind, language, slots, attempts, ambiguous,"  # noqa: S608
        " dedupe_key, status, not_before_ms, first_claim_ms FROM notices"
        f" WHERE {due[0]} ORDER BY next_attempt_ms, id LIMIT ?"
    )
    rows = conn.execute(sql, (*due[1], limit)).fetchall()
    claimed = []
    for (id_, channel, address, kind, lang, slots, attempts, ambiguous, key, status,
         not_before, first_claim) in rows:
        reclaimed = status == NoticeStatus.SENDING
        ambiguous += int(reclaimed)
        first_claim = now_ms if first_claim is None else int(first_claim)
        conn.execute(
            "UPDATE notices SET status = 'sending', claimed_until_ms = ?, claimed_by = ?,"  # noqa: S608
            " first_claim_ms = ?, ambiguous = ?, updated_at_ms = ?"
            f" WHERE id = ? AND {_MAY_BECOME[NoticeStatus.SENDING]}",
            (now_ms + lease_ms, owner, first_claim, ambiguous, now_ms, id_),
        )
        claimed.append(_claimed(vault, (id_, channel, address, kind, lang, slots, attempts,
                                        ambiguous, key, status, not_before, first_claim)))
    return claimed


def _claim_due_pg(conn: Txn, vault: Vault, now_ms: int, limit: int, lease_ms: int,
                  due: tuple[str, tuple[Any, ...]], owner: str | None) -> list[ClaimedNotice]:
    # In SET and in the CTE, columns are the row before the update; RETURNING gives after.
    sql = (
        "WITH due AS (SELECT id, status AS was FROM notices"  # noqa: S608
        f" WHERE {due[0]} ORDER BY next_attempt_ms, id LIMIT ? FOR UPDATE SKIP LOCKED)"
        " UPDATE notices SET status = 'sending', claimed_until_ms = ?, claimed_by = ?,"
        " first_claim_ms = COALESCE(first_claim_ms, ?),"
        " ambiguous = ambiguous + CASE WHEN status = 'sending' THEN 1 ELSE 0 END,"
        " updated_at_ms = ?"
        f" FROM due WHERE notices.id = due.id AND notices.{_MAY_BECOME[NoticeStatus.SENDING]}"
        " RETURNING notices.id, channel, address_enc, kind, language, slots, attempts,"
        " ambiguous, dedupe_key, due.was, not_before_ms, first_claim_ms, next_attempt_ms"
    )
    rows = conn.execute(sql, (*due[1], limit, now_ms + lease_ms, owner, now_ms,
                              now_ms)).fetchall()
    rows.sort(key=lambda r: (r[12], r[0]))  # the order they were due in, as on SQLite
    return [_claimed(vault, tuple(r[:12])) for r in rows]


def _claimed(vault: Vault, row: tuple[Any, ...]) -> ClaimedNotice:
    """A claimed row (ambiguous and first_claim_ms as they are now claimed; status before)."""
    (id_, channel, address, kind, lang, slots, attempts, ambiguous, key, status,
     not_before, first_claim) = row
    return ClaimedNotice(
        id_, Channel(channel), vault.open_text(ADDRESS, address), NoticeKind(kind),
        language_of(lang), _open_slots(vault, slots), attempts, ambiguous, key,
        status == NoticeStatus.SENDING, reconcile=NoticeStatus(status) in MUST_RECONCILE,
        not_before_ms=int(not_before), first_claim_ms=int(first_claim),
    )


def claim_owners_txn(conn: Txn) -> list[str]:
    """The processes holding notices now (sending, with an owner recorded)."""
    rows = conn.execute(
        "SELECT DISTINCT claimed_by FROM notices WHERE status = 'sending'"
        " AND claimed_by IS NOT NULL ORDER BY claimed_by").fetchall()
    return [str(r[0]) for r in rows]


def release_claims_txn(conn: Txn, owner: str, due_ms: int) -> int:
    """Make the notices `owner` holds claimable at `due_ms` (or when their lease runs out, if
    sooner): the owner is known to be gone. Returns how many."""
    cursor = conn.execute(
        "UPDATE notices SET claimed_until_ms ="
        " CASE WHEN claimed_until_ms < ? THEN claimed_until_ms ELSE ? END"
        " WHERE status = 'sending' AND claimed_by = ?", (due_ms, due_ms, owner))
    return cursor.rowcount


def mark_sent_txn(
    conn: Txn, notice_id: int, sid: str | None, ambiguous: int, now_ms: int
) -> None:
    """The provider accepted the create request (one more attempt)."""
    conn.execute(
        "UPDATE notices SET status = 'sent', provider_sid = ?, ambiguous = ?,"  # noqa: S608
        " attempts = attempts + 1, claimed_until_ms = NULL, claimed_by = NULL,"
        f" updated_at_ms = ? WHERE id = ? AND {_MAY_BECOME[NoticeStatus.SENT]}",
        (sid, ambiguous, now_ms, notice_id),
    )
    _redact_slots_txn(conn, notice_id)


def mark_retry_txn(
    conn: Txn, notice_id: int, next_ms: int, ambiguous: int, reason: str,
    now_ms: int, *, status: NoticeStatus = NoticeStatus.QUEUED, counted: bool = True,
) -> None:
    """Back to `queued` (nothing was created) or `ambiguous` (something may have been), due at
    `next_ms`; `counted` adds the attempt just made (a 429 or a reconcile adds none)."""
    if status not in (NoticeStatus.QUEUED, NoticeStatus.AMBIGUOUS):
        raise ValueError(f"not a retry: {status}")
    conn.execute(
        "UPDATE notices SET status = ?, next_attempt_ms = ?, ambiguous = ?,"  # noqa: S608
        " attempts = attempts + ?, reason = ?, claimed_until_ms = NULL, claimed_by = NULL,"
        f" updated_at_ms = ? WHERE id = ? AND {_MAY_BECOME[status]}",
        (status.value, next_ms, ambiguous, int(counted), reason, now_ms, notice_id),
    )


def mark_final_txn(
    conn: Txn, notice_id: int, status: str, reason: str,
    error_code: int | None, now_ms: int, *, counted: bool = False,
) -> None:
    """`failed`, `skipped` or `expired`, with a stable reason code; `counted` adds the attempt
    that ended it (a permanent error from the provider)."""
    target = NoticeStatus(status)
    if target not in GIVEN_UP:
        raise ValueError(f"not a final outcome: {status}")
    conn.execute(
        "UPDATE notices SET status = ?, reason = ?, error_code = ?,"  # noqa: S608
        " attempts = attempts + ?, claimed_until_ms = NULL, claimed_by = NULL,"
        f" updated_at_ms = ? WHERE id = ? AND {_MAY_BECOME[target]}",
        (target.value, reason, error_code, int(counted), now_ms, notice_id),
    )
    _redact_slots_txn(conn, notice_id)


def sids_of_other_notices_txn(conn: Txn, notice_id: int,
                              sids: Iterable[str]) -> set[str]:
    """Which of `sids` another notice already holds (sent or adopted): a reconcile must not
    take a message that belongs to someone else's notice."""
    wanted = sorted(set(sids))
    if not wanted:
        return set()
    marks = ",".join("?" * len(wanted))
    rows = conn.execute(
        f"SELECT provider_sid FROM notices WHERE provider_sid IN ({marks}) AND id != ?",  # noqa: S608
        (*wanted, notice_id)).fetchall()
    return {str(r[0]) for r in rows}


def mark_found_txn(conn: Txn, notice_id: int, status: NoticeStatus, sid: str,
                   now_ms: int) -> None:
    """A reconcile found the message at the provider: adopt its sid as `reconciled`, or as
    `duplicate_suspected` when it found more than one."""
    if status not in FOUND:
        raise ValueError(f"not a reconcile outcome: {status}")
    reason = "duplicate-suspected" if status is NoticeStatus.DUPLICATE_SUSPECTED else None
    conn.execute(
        "UPDATE notices SET status = ?, provider_sid = ?, reason = ?,"  # noqa: S608
        " claimed_until_ms = NULL, claimed_by = NULL, updated_at_ms = ?"
        f" WHERE id = ? AND {_MAY_BECOME[status]}",
        (status.value, sid, reason, now_ms, notice_id),
    )
    _redact_slots_txn(conn, notice_id)


def unconfirmed_due_txn(conn: Txn, now_ms: int, quiet_ms: int, since_ms: int,
                        limit: int, channels: Sequence[str]) -> list[tuple[int, str, str]]:
    """(id, channel, sid) of notices on `channels` handed to the provider that have heard
    nothing for `quiet_ms` (no callback, no poll), queued after `since_ms`: the status poll's
    work."""
    marks = ",".join("?" * len(channels))
    rows = conn.execute(
        "SELECT id, channel, provider_sid FROM notices"  # noqa: S608
        f" WHERE status IN {_sql_in(UNCONFIRMED)} AND updated_at_ms <= ?"
        " AND (polled_at_ms IS NULL OR polled_at_ms <= ?) AND created_at_ms >= ?"
        f" AND channel IN ({marks}) AND provider_sid IS NOT NULL"
        " ORDER BY updated_at_ms, id LIMIT ?",
        (now_ms - quiet_ms, now_ms - quiet_ms, since_ms, *channels, limit),
    ).fetchall()
    return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


def mark_polled_txn(conn: Txn, notice_id: int, now_ms: int) -> None:
    conn.execute("UPDATE notices SET polled_at_ms = ? WHERE id = ?", (now_ms, notice_id))


def apply_callback_txn(
    conn: Txn, sid: str, status: str, error_code: int | None, now_ms: int
) -> tuple[int, str] | None:
    """Move the notice sent as `sid` forward to `status`: (id, the reported status) when it
    moved, (id, its current status) when the callback changes nothing (late, repeated, or not a
    move the lifecycle allows), None when the sid or the status is unknown."""
    row = conn.execute(
        "SELECT id, status FROM notices WHERE provider_sid = ?", (sid,)
    ).fetchone()
    if row is None or status not in CALLBACK_STATUS:
        return None
    current = NoticeStatus(row[1])
    target = callback_target(current, status)
    if target is None:
        return int(row[0]), str(row[1])
    reason = "undelivered" if target is NoticeStatus.UNDELIVERED else None
    conn.execute(
        "UPDATE notices SET status = ?, error_code = COALESCE(?, error_code),"  # noqa: S608
        " reason = COALESCE(?, reason), updated_at_ms = ?"
        f" WHERE id = ? AND {_MAY_BECOME[target]}",
        (target.value, error_code, reason, now_ms, row[0]),
    )
    return int(row[0]), status


# A notice being sent again after an attempt that may have created it is still in doubt: it
# stays in the problems as `ambiguous` ("may have been sent, being checked") rather than
# dropping out of the list for the seconds each retry takes.
PROBLEM_STATUS_SQL = "CASE WHEN n.status = 'sending' THEN 'ambiguous' ELSE n.status END"
PROBLEM_WHERE_SQL = (f"(n.status IN {_sql_in(VISIBLE_PROBLEMS)}"
                     " OR (n.status = 'sending' AND n.ambiguous > 0))")


def problems_for_therapist_txn(
    conn: Txn, account_id: bytes, limit: int
) -> list[NoticeView]:
    """Notices of the booklets this account is the therapist of that did not, or may not,
    have reached the family as meant (model/notices.py VISIBLE_PROBLEMS)."""
    rows = conn.execute(
        "SELECT n.id, n.booklet_id, n.recipient_id, n.channel, n.kind,"  # noqa: S608
        f" {PROBLEM_STATUS_SQL}, n.reason, n.error_code, n.attempts, n.updated_at_ms"
        " FROM notices n"
        " JOIN members m ON m.booklet_id = n.booklet_id AND m.account_id = ?"
        " AND m.role = 'therapist' AND m.removed_at_ms IS NULL"
        f" WHERE {PROBLEM_WHERE_SQL}"
        # one sent again (storage/notice_retry.py) is handled: its new attempt is what counts
        " AND NOT EXISTS (SELECT 1 FROM notices r WHERE r.dedupe_key = 'retry:' || n.id)"
        " ORDER BY n.updated_at_ms DESC LIMIT ?",
        (account_id, limit),
    ).fetchall()
    return [NoticeView(*r) for r in rows]


def notices_for_booklet_txn(conn: Txn, booklet_id: bytes) -> list[NoticeView]:
    rows = conn.execute(
        "SELECT id, booklet_id, recipient_id, channel, kind, status, reason, error_code, attempts,"
        " updated_at_ms FROM notices WHERE booklet_id = ? ORDER BY id", (booklet_id,),
    ).fetchall()
    return [NoticeView(*r) for r in rows]


def last_notice_ms_txn(conn: Txn, recipient_id: bytes, kind: NoticeKind) -> int:
    row = conn.execute(
        "SELECT MAX(created_at_ms) FROM notices WHERE recipient_id = ? AND kind = ?",
        (recipient_id, kind.value),
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def manual_notice_times_txn(conn: Txn, recipient_id: bytes, booklet_id: bytes,
                            since_ms: int) -> list[int]:
    """When the notices sent by hand to this member of this booklet after `since_ms` were
    queued, whatever became of them: what the manual-notice cap counts."""
    rows = conn.execute(
        "SELECT created_at_ms FROM notices WHERE recipient_id = ? AND booklet_id = ?"
        " AND created_at_ms > ? AND substr(dedupe_key, 1, ?) = ?",
        (recipient_id, booklet_id, since_ms, len(MANUAL_KEY_PREFIX), MANUAL_KEY_PREFIX),
    ).fetchall()
    return [int(r[0]) for r in rows]


def count_by_status_txn(conn: Txn) -> dict[str, int]:
    rows = conn.execute("SELECT status, COUNT(*) FROM notices GROUP BY status").fetchall()
    return {str(s): int(c) for s, c in rows}


def outbox_figures_txn(conn: Txn, now_ms: int) -> OutboxFigures:
    """Notices by status, failed ones by reason, and when the longest-waiting notice that is
    due but not yet handed over (queued or ambiguous) first became due."""
    failed = conn.execute(
        "SELECT COALESCE(reason, ''), COUNT(*) FROM notices WHERE status = 'failed'"
        " GROUP BY reason").fetchall()
    oldest = conn.execute(
        "SELECT MIN(not_before_ms) FROM notices WHERE status IN ('queued', 'ambiguous')"
        " AND not_before_ms <= ?", (now_ms,)).fetchone()[0]
    return OutboxFigures(count_by_status_txn(conn), {str(r): int(c) for r, c in failed},
                         None if oldest is None else int(oldest))


# -- contacts ----------------------------------------------------------------------------------


def _contact(vault: Vault, row: tuple[Any, ...]) -> Contact:
    account_id, role, phone, email, lang = row
    return Contact(
        account_id, role, vault.open_text(PHONE, phone) if phone is not None else None,
        vault.open_text(EMAIL, email) if email is not None else None, language_of(lang),
    )


def booklet_contacts_txn(
    conn: Txn, vault: Vault, booklet_id: bytes, roles: Sequence[str]
) -> list[Contact]:
    """Current members in `roles` with their (opened) phone, e-mail and language."""
    marks = ",".join("?" * len(roles))
    sql = (
        "SELECT a.id, m.role, a.phone_enc, a.email_enc, a.language FROM members m"  # noqa: S608
        " JOIN accounts a ON a.id = m.account_id WHERE m.booklet_id = ?"
        f" AND m.removed_at_ms IS NULL AND m.role IN ({marks}) AND a.disabled_at_ms IS NULL"
        " ORDER BY a.id"
    )
    rows = conn.execute(sql, (booklet_id, *roles)
    ).fetchall()
    return [_contact(vault, r) for r in rows]


def account_contact_txn(conn: Txn, vault: Vault, account_id: bytes
                        ) -> Contact | None:
    row = conn.execute(
        "SELECT id, role, phone_enc, email_enc, language FROM accounts WHERE id = ?",
        (account_id,),
    ).fetchone()
    return _contact(vault, row) if row else None


def booklets_of_phone_txn(
    conn: Txn, vault: Vault, e164: str, roles: Sequence[str]
) -> list[tuple[bytes, bytes, str]]:
    """(account id, booklet id, language) for each current membership in `roles` of this
    number. No default: cancelling asks for guardians only, as the API allows."""
    marks = ",".join("?" * len(roles))
    sql = (
        "SELECT a.id, m.booklet_id, a.language FROM accounts a"  # noqa: S608
        " JOIN members m ON m.account_id = a.id AND m.removed_at_ms IS NULL"
        " WHERE a.phone_index = ? AND a.disabled_at_ms IS NULL"
        f" AND m.role IN ({marks}) ORDER BY a.id, m.booklet_id"
    )
    rows = conn.execute(sql, (vault.blind_index(PHONE, e164), *roles)).fetchall()
    return [(r[0], r[1], str(r[2])) for r in rows]


# -- consent and inbound dedupe ------------------------------------------------------------------


def set_consent_txn(
    conn: Txn, vault: Vault, e164: str, *, opted_out: bool, keyword: str,
    now_ms: int,
) -> None:
    conn.execute(
        "INSERT INTO sms_consent (phone_index, opted_out, keyword, changed_at_ms)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (phone_index) DO UPDATE SET"
        " opted_out = excluded.opted_out, keyword = excluded.keyword,"
        " changed_at_ms = excluded.changed_at_ms",
        (vault.blind_index(PHONE, e164), int(opted_out), keyword, now_ms),
    )


def opted_out_txn(conn: Txn, vault: Vault, e164: str) -> bool:
    row = conn.execute(
        "SELECT opted_out FROM sms_consent WHERE phone_index = ?",
        (vault.blind_index(PHONE, e164),),
    ).fetchone()
    return bool(row and row[0])


def webhook_reply_txn(conn: Txn, sid: str) -> str | None:
    row = conn.execute("SELECT reply FROM inbound_webhooks WHERE sid = ?", (sid,)).fetchone()
    return str(row[0]) if row else None


def record_webhook_txn(
    conn: Txn, sid: str, kind: str, reply: str, now_ms: int
) -> bool:
    cursor = conn.execute(
        "INSERT INTO inbound_webhooks (sid, kind, reply, received_at_ms)"
        " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING", (sid, kind, reply, now_ms),
    )
    return cursor.rowcount == 1
