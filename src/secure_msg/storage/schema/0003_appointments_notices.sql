-- 0003: appointments, therapy periods, the notice outbox, inbound webhook dedupe, SMS consent.
-- Nothing here is clinical: times, counts, statuses and short codes. Phone numbers and e-mail
-- addresses are sealed by the vault (purpose notices.address) and never stored in the clear.

CREATE TABLE appointments (
    id              BLOB PRIMARY KEY,     -- 16 random bytes
    booklet_id      BLOB NOT NULL REFERENCES booklets (id), -- whose appointment
    therapist_id    BLOB NOT NULL REFERENCES accounts (id), -- who scheduled it and is alerted
    start_ms        INTEGER NOT NULL,     -- start time, Unix ms UTC
    duration_min    INTEGER NOT NULL,     -- length in minutes
    status          TEXT NOT NULL         -- lifecycle, see domain/appointments.py
                    CHECK (status IN ('scheduled', 'cancelled_by_family', 'cancelled_by_therapist', 'attended', 'no_show')),
    cancel_code     TEXT NOT NULL,        -- short digits code for "PERU <code>"
    late            INTEGER NOT NULL DEFAULT 0, -- 1: family cancelled inside the late window
    cancelled_via   TEXT,                 -- api, sms or voice; NULL unless cancelled
    reminder_queued INTEGER NOT NULL DEFAULT 0, -- 1 once its reminders are in the outbox
    created_at_ms   INTEGER NOT NULL,     -- when scheduled
    updated_at_ms   INTEGER NOT NULL      -- last status change
) STRICT;

CREATE INDEX appointments_booklet ON appointments (booklet_id, start_ms);
CREATE INDEX appointments_due ON appointments (status, start_ms);
CREATE UNIQUE INDEX appointments_code ON appointments (cancel_code) WHERE status = 'scheduled';

CREATE TABLE periods (
    id              BLOB PRIMARY KEY,     -- 16 random bytes
    booklet_id      BLOB NOT NULL REFERENCES booklets (id), -- whose period
    start_date      TEXT NOT NULL,        -- first day, YYYY-MM-DD (practice time zone)
    end_date        TEXT NOT NULL,        -- last day, YYYY-MM-DD
    sessions_granted INTEGER NOT NULL,    -- e.g. 30 or 40
    payer           TEXT NOT NULL         -- who pays
                    CHECK (payer IN ('kela', 'municipality', 'self', 'other')),
    notified        TEXT NOT NULL DEFAULT '', -- period-ending notices queued: 2m,1m,few
    created_at_ms   INTEGER NOT NULL      -- when recorded
) STRICT;

CREATE INDEX periods_booklet ON periods (booklet_id, end_date);

CREATE TABLE notices (
    id              INTEGER PRIMARY KEY,  -- outbox order
    dedupe_key      TEXT NOT NULL UNIQUE, -- one notice per purpose (e.g. reminder:<appt>:<acct>)
    recipient_id    BLOB REFERENCES accounts (id), -- who gets it; NULL for a raw address
    booklet_id      BLOB,                 -- the booklet it concerns, for therapists' views
    channel         TEXT NOT NULL CHECK (channel IN ('sms', 'email', 'whatsapp')), -- how
    address_enc     BLOB NOT NULL,        -- sealed E.164 number or e-mail address
    kind            TEXT NOT NULL,        -- template kind (notice_templates.NoticeKind)
    language        TEXT NOT NULL,        -- fi, sv or en
    slots           TEXT NOT NULL,        -- typed slot values as JSON (times, code, link)
    status          TEXT NOT NULL         -- queued → sending → sent → delivered / undelivered
                    CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'skipped')),
    reason          TEXT,                 -- failure or skip reason code; NULL otherwise
    error_code      INTEGER,              -- provider error number, if any
    attempts        INTEGER NOT NULL DEFAULT 0, -- provider requests made
    ambiguous       INTEGER NOT NULL DEFAULT 0, -- attempts that may have created the message
    not_before_ms   INTEGER NOT NULL,     -- not sent before (quiet hours, schedule)
    next_attempt_ms INTEGER NOT NULL,     -- when the worker may next claim it
    claimed_until_ms INTEGER,             -- a worker holds it until then (crash recovery)
    provider_sid    TEXT,                 -- Twilio MessageSid once accepted
    created_at_ms   INTEGER NOT NULL,     -- when queued
    updated_at_ms   INTEGER NOT NULL      -- last change
) STRICT;

CREATE INDEX notices_due ON notices (status, next_attempt_ms);
CREATE INDEX notices_sid ON notices (provider_sid) WHERE provider_sid IS NOT NULL;
CREATE INDEX notices_booklet ON notices (booklet_id, status);
CREATE INDEX notices_recipient ON notices (recipient_id, kind, created_at_ms);

CREATE TABLE inbound_webhooks (
    sid             TEXT PRIMARY KEY,     -- MessageSid (SMS) or CallSid+step (voice)
    kind            TEXT NOT NULL,        -- sms, voice or status
    reply           TEXT NOT NULL,        -- the TwiML answered, repeated for a retry
    received_at_ms  INTEGER NOT NULL      -- when first seen
) STRICT, WITHOUT ROWID;

CREATE TABLE sms_consent (
    phone_index     BLOB PRIMARY KEY,     -- blind index of the number (accounts.phone)
    opted_out       INTEGER NOT NULL,     -- 1 after STOP/CANCEL/… or a 21610, 0 after START
    keyword         TEXT NOT NULL,        -- the keyword or provider code that set it
    changed_at_ms   INTEGER NOT NULL      -- when
) STRICT, WITHOUT ROWID;
