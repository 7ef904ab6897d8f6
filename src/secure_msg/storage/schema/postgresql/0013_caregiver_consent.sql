-- 0013 (PostgreSQL): caregivers (daycare, school) join a booklet for a stated time and only with every
-- guardian's signed consent (issue 17 item 4; the record is docs/protocol.md §5.1). Nothing here
-- is clinical: terms, statuses and the signed records, which name accounts and times only.

CREATE TABLE caregiver_terms (
    id              BIGINT PRIMARY KEY REFERENCES invitations (id), -- the invitation stating them
    booklet_id      BYTEA NOT NULL REFERENCES booklets (id), -- the booklet the caregiver joins
    account_id      BYTEA,                 -- the caregiver's account once enrolled; NULL before
    until_ms        BIGINT NOT NULL,     -- the membership ends by itself at this time
    scope           TEXT NOT NULL         -- new: entries from joining on; history: also granted ones
                    CHECK (scope IN ('new', 'history')),
    status          TEXT NOT NULL         -- model/caregiver_terms.py TermsStatus and TRANSITIONS
                    CHECK (status IN ('invited', 'pending_consent', 'active', 'withdrawn', 'expired')),
    invited_by      BYTEA NOT NULL REFERENCES accounts (id), -- the therapist who invited
    created_at_ms   BIGINT NOT NULL,     -- when invited
    changed_at_ms   BIGINT NOT NULL      -- the last status change
);

CREATE INDEX caregiver_terms_member ON caregiver_terms (booklet_id, account_id);
CREATE INDEX caregiver_terms_open ON caregiver_terms (until_ms)
    WHERE status IN ('invited', 'pending_consent', 'active');

CREATE TABLE consent_records (
    terms_id        BIGINT NOT NULL REFERENCES caregiver_terms (id), -- which invitation's terms
    guardian_id     BYTEA NOT NULL REFERENCES accounts (id), -- the guardian who signed
    action          TEXT NOT NULL CHECK (action IN ('approve', 'withdraw')), -- what they signed
    record          BYTEA NOT NULL,        -- the signed record, verified before it was stored
    created_at_ms   BIGINT NOT NULL,     -- when stored (the server's clock)
    PRIMARY KEY (terms_id, guardian_id, action)
);
