-- 0007: the outbox survives outages (issue 15). New statuses: `ambiguous` (an attempt may have
-- created the message: reconcile with the provider before any resend), `reconciled` (found at
-- the provider, its sid adopted), `duplicate_suspected` (found there more than once) and
-- `expired` (no longer useful: the appointment began or the retry horizon passed). SQLite cannot
-- change a CHECK in place, so the table is rebuilt (ids kept: they are the outbox order).

CREATE TABLE notices_v7 (
    id              INTEGER PRIMARY KEY,  -- outbox order
    dedupe_key      TEXT NOT NULL UNIQUE, -- one notice per purpose (e.g. reminder:<appt>:<acct>)
    recipient_id    BLOB REFERENCES accounts (id), -- who gets it; NULL for a raw address
    booklet_id      BLOB,                 -- the booklet it concerns, for therapists' views
    channel         TEXT NOT NULL CHECK (channel IN ('sms', 'email', 'whatsapp')), -- how
    address_enc     BLOB NOT NULL,        -- sealed E.164 number or e-mail address
    kind            TEXT NOT NULL,        -- template kind (notice_templates.NoticeKind)
    language        TEXT NOT NULL,        -- fi, sv or en
    slots           TEXT NOT NULL,        -- typed slot values as JSON (times, code, link)
    status          TEXT NOT NULL         -- model/notices.py NoticeStatus and TRANSITIONS
                    CHECK (status IN ('queued', 'sending', 'ambiguous', 'sent', 'reconciled', 'duplicate_suspected', 'delivered', 'undelivered', 'failed', 'skipped', 'expired')),
    reason          TEXT,                 -- failure, retry, skip or expiry reason code
    error_code      INTEGER,              -- provider error number, if any
    attempts        INTEGER NOT NULL DEFAULT 0, -- create requests made (429s not counted)
    ambiguous       INTEGER NOT NULL DEFAULT 0, -- attempts that may have created the message
    not_before_ms   INTEGER NOT NULL,     -- not sent before (quiet hours, schedule)
    next_attempt_ms INTEGER NOT NULL,     -- when the worker may next claim it
    claimed_until_ms INTEGER,             -- a worker holds it until then (crash recovery)
    claimed_by      TEXT,                 -- the worker process holding it (its random boot id)
    first_claim_ms  INTEGER,              -- first claim: a reconcile looks for messages since
    provider_sid    TEXT,                 -- Twilio MessageSid once accepted or adopted
    polled_at_ms    INTEGER,              -- last status poll of a sent notice without callback
    created_at_ms   INTEGER NOT NULL,     -- when queued
    updated_at_ms   INTEGER NOT NULL      -- last change
) STRICT;

INSERT INTO notices_v7 (id, dedupe_key, recipient_id, booklet_id, channel, address_enc, kind,
                        language, slots, status, reason, error_code, attempts, ambiguous,
                        not_before_ms, next_attempt_ms, claimed_until_ms, provider_sid,
                        created_at_ms, updated_at_ms)
    SELECT id, dedupe_key, recipient_id, booklet_id, channel, address_enc, kind, language, slots,
           status, reason, error_code, attempts, ambiguous, not_before_ms, next_attempt_ms,
           claimed_until_ms, provider_sid, created_at_ms, updated_at_ms
    FROM notices ORDER BY id;

DROP TABLE notices;
ALTER TABLE notices_v7 RENAME TO notices;

CREATE INDEX notices_due ON notices (status, next_attempt_ms);
CREATE INDEX notices_sid ON notices (provider_sid) WHERE provider_sid IS NOT NULL;
CREATE INDEX notices_booklet ON notices (booklet_id, status);
CREATE INDEX notices_recipient ON notices (recipient_id, kind, created_at_ms);
-- Sent notices waiting for a status: what the status poll scans. The list is written as
-- storage/notices.py writes it (sorted), so that the planner sees the query imply it.
CREATE INDEX notices_unconfirmed ON notices (status, updated_at_ms)
    WHERE status IN ('reconciled', 'sent');
