-- 0001_initial: schema bookkeeping, enrollment invitations and the audit log.
-- Times are Unix milliseconds (UTC). PII columns hold vault-sealed blobs (crypto/vault.py) whose
-- AAD purpose is "<table>.<column without _enc>"; *_index columns hold the keyed blind index.

CREATE TABLE schema_version (
    version         INTEGER PRIMARY KEY,  -- number of the applied schema file (0001_… → 1)
    name            TEXT NOT NULL,        -- rest of the file name, for humans reading the history
    applied_at_ms   INTEGER NOT NULL      -- when it was applied
) STRICT;

CREATE TABLE invitations (
    id              INTEGER PRIMARY KEY,  -- internal id; audit targets say "invitation:<id>"
    token_hash      BLOB NOT NULL UNIQUE, -- SHA-256 of the 32-byte token; the token is never stored
    role            TEXT NOT NULL         -- what the enrollee becomes
                    CHECK (role IN ('admin', 'therapist', 'guardian', 'caregiver')),
    name_enc        BLOB,                 -- sealed display name (purpose invitations.name), or NULL
    phone_enc       BLOB,                 -- sealed E.164 phone (purpose invitations.phone), or NULL
    phone_index     BLOB,                 -- blind index of the E.164 phone, for look-ups, or NULL
    email_enc       BLOB,                 -- sealed e-mail address (purpose invitations.email), or NULL
    email_index     BLOB,                 -- blind index of the normalised e-mail, or NULL
    created_at_ms   INTEGER NOT NULL,     -- when it was issued
    expires_at_ms   INTEGER NOT NULL,     -- after this it cannot be used (also set to revoke it)
    used_at_ms      INTEGER               -- when it was spent on an enrollment; NULL while unused
) STRICT;

CREATE INDEX invitations_role_unused ON invitations (role) WHERE used_at_ms IS NULL;
CREATE INDEX invitations_phone_index ON invitations (phone_index) WHERE phone_index IS NOT NULL;

CREATE TABLE audit_events (
    seq             INTEGER PRIMARY KEY,  -- position in the hash chain: 1, 2, 3… never reused
    at_ms           INTEGER NOT NULL,     -- when it happened
    actor           TEXT NOT NULL,        -- who: "system", "operator" or "account:<id>"; never PII
    action          TEXT NOT NULL,        -- dotted verb, e.g. "invitation.created"
    target          TEXT NOT NULL,        -- what it concerns, e.g. "invitation:7"; "" when nothing
    detail          TEXT NOT NULL,        -- small canonical JSON object, non-clinical, no PII
    prev_hash       BLOB NOT NULL,        -- hash of event seq-1 (32 zero bytes for seq 1)
    hash            BLOB NOT NULL         -- SHA-256 over domain/audit.py's encoding of this row
) STRICT;

-- Append-only: the database itself refuses to change or remove history.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
