-- 0007 (PostgreSQL): the outbox survives outages (issue 15). New statuses: `ambiguous` (an
-- attempt may have created the message: reconcile with the provider before any resend),
-- `reconciled` (found at the provider, its sid adopted), `duplicate_suspected` (found there more
-- than once) and `expired` (no longer useful). SQLite rebuilds the table to change the CHECK;
-- PostgreSQL replaces the constraint and adds the columns in place.

ALTER TABLE notices DROP CONSTRAINT notices_status_check;
ALTER TABLE notices ADD CONSTRAINT notices_status_check
    CHECK (status IN ('queued', 'sending', 'ambiguous', 'sent', 'reconciled', 'duplicate_suspected', 'delivered', 'undelivered', 'failed', 'skipped', 'expired'));

ALTER TABLE notices ADD COLUMN claimed_by TEXT;      -- the worker process holding it (its random boot id)
ALTER TABLE notices ADD COLUMN first_claim_ms BIGINT; -- first claim: a reconcile looks for messages since
ALTER TABLE notices ADD COLUMN polled_at_ms BIGINT;  -- last status poll of a sent notice without callback

-- Sent notices waiting for a status: what the status poll scans.
CREATE INDEX notices_unconfirmed ON notices (status, updated_at_ms)
    WHERE status IN ('reconciled', 'sent');
