-- 0002: accounts and sessions, booklets and their members, encrypted entries, history grants,
-- read receipts. Ids of accounts, booklets and entries are the protocol's 16-byte ids
-- (docs/protocol.md §2). Nothing here is clinical plaintext: entries are sealed envelopes.

ALTER TABLE invitations ADD COLUMN booklet_id BLOB;  -- booklet the enrollee joins, NULL for staff
ALTER TABLE invitations ADD COLUMN invited_by BLOB;  -- account id of the inviter, NULL for operator
ALTER TABLE invitations ADD COLUMN account_id BLOB;  -- id reserved for the enrollee's new account

CREATE TABLE accounts (
    id              BLOB PRIMARY KEY,     -- 16-byte protocol account id
    role            TEXT NOT NULL         -- admin, therapist, guardian or caregiver
                    CHECK (role IN ('admin', 'therapist', 'guardian', 'caregiver')),
    login_index     BLOB NOT NULL UNIQUE, -- blind index of the normalised login name
    login_enc       BLOB NOT NULL,        -- sealed login name (purpose accounts.login)
    name_enc        BLOB,                 -- sealed display name (purpose accounts.name), or NULL
    phone_enc       BLOB,                 -- sealed E.164 phone (purpose accounts.phone), or NULL
    phone_index     BLOB,                 -- blind index of the phone, for inbound SMS, or NULL
    email_enc       BLOB,                 -- sealed e-mail address (purpose accounts.email), or NULL
    language        TEXT NOT NULL DEFAULT 'fi' CHECK (language IN ('fi', 'sv', 'en')), -- notices
    kdf_salt        BLOB NOT NULL,        -- 16-byte PBKDF2 salt (protocol §3.3); not secret
    kdf_iterations  INTEGER NOT NULL,     -- PBKDF2 iterations, at least 600 000
    auth_verifier   BLOB NOT NULL,        -- Argon2id string of the login auth key
    recovery_verifier BLOB NOT NULL,      -- Argon2id string of the recovery auth key
    password_bundle BLOB NOT NULL,        -- key bundle sealed under the password kek (§3.5)
    recovery_bundle BLOB NOT NULL,        -- key bundle sealed under the recovery kek (§3.5)
    key_statement   BLOB NOT NULL,        -- current signed key statement (§3.2)
    identity_key    BLOB NOT NULL,        -- Ed25519 public key from the statement, for verifying
    encryption_key  BLOB NOT NULL,        -- X25519 public key from the statement, for wraps
    created_at_ms   INTEGER NOT NULL,     -- enrollment time
    disabled_at_ms  INTEGER               -- set when an admin disables the account; NULL if active
) STRICT;

CREATE INDEX accounts_phone_index ON accounts (phone_index) WHERE phone_index IS NOT NULL;

CREATE TABLE sessions (
    token_hash      BLOB PRIMARY KEY,     -- SHA-256 of the bearer token; the token is never stored
    account_id      BLOB NOT NULL REFERENCES accounts (id), -- whose session
    created_at_ms   INTEGER NOT NULL,     -- login time
    expires_at_ms   INTEGER NOT NULL,     -- unusable after this
    revoked_at_ms   INTEGER               -- logout or password change; NULL while valid
) STRICT, WITHOUT ROWID;

CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE booklets (
    id              BLOB PRIMARY KEY,     -- 16-byte protocol booklet id
    created_by      BLOB NOT NULL REFERENCES accounts (id), -- the therapist who opened it
    created_at_ms   INTEGER NOT NULL,     -- when
    last_seq        INTEGER NOT NULL DEFAULT 0, -- sequence of the newest entry; 0 when empty
    last_hash       BLOB NOT NULL,        -- entry hash of the newest entry; 32 zero bytes if none
    members_version INTEGER NOT NULL DEFAULT 1 -- bumped on every membership change
) STRICT;

CREATE TABLE members (
    booklet_id      BLOB NOT NULL REFERENCES booklets (id), -- which booklet
    account_id      BLOB NOT NULL REFERENCES accounts (id), -- which account
    role            TEXT NOT NULL         -- therapist writes homework; guardian, caregiver
                    CHECK (role IN ('therapist', 'guardian', 'caregiver')),
    joined_at_ms    INTEGER NOT NULL,     -- when they joined
    joined_seq      INTEGER NOT NULL,     -- the booklet's last_seq when they joined
    removed_at_ms   INTEGER,              -- removal or leaving; NULL while a current member
    PRIMARY KEY (booklet_id, account_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX members_account ON members (account_id) WHERE removed_at_ms IS NULL;

CREATE TABLE entries (
    booklet_id      BLOB NOT NULL REFERENCES booklets (id), -- which booklet
    seq             INTEGER NOT NULL,     -- per-booklet sequence from the envelope header
    entry_id        BLOB NOT NULL UNIQUE, -- 16-byte protocol entry id
    author_id       BLOB NOT NULL REFERENCES accounts (id), -- who sealed and signed it
    kind            INTEGER NOT NULL,     -- envelope kind byte (title, note, homework…)
    created_at_ms   INTEGER NOT NULL,     -- the author's clock, from the header
    received_at_ms  INTEGER NOT NULL,     -- the server's clock
    entry_hash      BLOB NOT NULL,        -- protocol entry hash; the next entry's prev_hash
    envelope        BLOB NOT NULL,        -- the sealed, signed envelope; ciphertext only
    PRIMARY KEY (booklet_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE entry_access (
    booklet_id      BLOB NOT NULL,        -- booklet of the entry
    account_id      BLOB NOT NULL,        -- an account that holds the entry's key
    seq             INTEGER NOT NULL,     -- the entry
    via_grant       INTEGER NOT NULL DEFAULT 0, -- 1 when the key came by a history grant
    PRIMARY KEY (booklet_id, account_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE grants (
    id              INTEGER PRIMARY KEY,  -- internal id
    booklet_id      BLOB NOT NULL REFERENCES booklets (id), -- which booklet
    granter_id      BLOB NOT NULL REFERENCES accounts (id), -- who re-wrapped the keys
    grantee_id      BLOB NOT NULL REFERENCES accounts (id), -- who receives them
    created_at_ms   INTEGER NOT NULL,     -- server time
    blob            BLOB NOT NULL         -- the signed grant (protocol §5)
) STRICT;

CREATE INDEX grants_grantee ON grants (booklet_id, grantee_id);

CREATE TABLE receipts (
    booklet_id      BLOB NOT NULL,        -- which booklet
    account_id      BLOB NOT NULL,        -- who read
    read_seq        INTEGER NOT NULL,     -- every entry up to this sequence is read
    read_at_ms      INTEGER NOT NULL,     -- when the receipt was last moved
    PRIMARY KEY (booklet_id, account_id)
) STRICT, WITHOUT ROWID;
