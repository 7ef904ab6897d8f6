-- 0009 (PostgreSQL): closing and retention (issue 17, item 7). An open booklet has no row here; closing one
-- adds it (model/booklet_lifecycle.py). After the purge every row of the booklet is gone and
-- this row stays as a tombstone: ids and times only, nothing personal or clinical.
-- Accounts gain `deleted_at_ms`: a deleted account keeps a pseudonymous row (its id, role and
-- public keys, which verify the entries it wrote in booklets that still exist) and nothing else.

CREATE TABLE booklet_lifecycle (
    booklet_id      BYTEA PRIMARY KEY,     -- the booklet (no foreign key: the purge deletes it)
    status          TEXT NOT NULL         -- model/booklet_lifecycle.py BookletStatus, TRANSITIONS
                    CHECK (status IN ('closed', 'purge_scheduled', 'purged')),
    closed_by       BYTEA NOT NULL,        -- account id of the therapist who closed it
    closed_at_ms    BIGINT NOT NULL,     -- when it was closed
    purge_after_ms  BIGINT NOT NULL,     -- not purged before this (retention.closed_booklet_days)
    reminded_at_ms  BIGINT,              -- when the export reminder was queued; NULL before
    purged_at_ms    BIGINT               -- when its rows were deleted; NULL before
);

CREATE INDEX booklet_lifecycle_due ON booklet_lifecycle (status, purge_after_ms);

ALTER TABLE accounts ADD COLUMN deleted_at_ms BIGINT;  -- owner deleted it: personal data erased
