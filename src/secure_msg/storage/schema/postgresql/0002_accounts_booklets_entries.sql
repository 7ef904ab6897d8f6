-- 0002 (PostgreSQL): accounts and sessions, booklets and their members, encrypted entries, history grants,
-- read receipts. Ids of accounts, booklets and entries are the protocol's 16-byte ids
-- (docs/protocol.md §2). Nothing here is clinical plaintext: entries are sealed envelopes.

ALTER TABLE invitations ADD COLUMN booklet_id BYTEA;  -- booklet the enrollee joins, NULL for staff
ALTER TABLE invitations ADD COLUMN invited_by BYTEA;  -- account id of the inviter, NULL for operator
ALTER TABLE invitations ADD COLUMN account_id BYTEA;  -- id reserved for the enrollee's new account

CREATE TABLE accounts (
    id              BYTEA PRIMARY KEY,     -- 16-byte protocol account id
    role            TEXT NOT NULL         -- admin, therapist, guardian or caregiver
                    CHECK (role IN ('admin', 'therapist', 'guardian', 'caregiver')),
    login_index     BYTEA NOT NULL UNIQUE, -- blind index of the normalised login name
    login_enc       BYTEA NOT NULL,        -- sealed login name (purpose accounts.login)
    name_enc        BYTEA,                 -- sealed display name (purpose accounts.name), or NULL
    phone_enc       BYTEA,                 -- sealed E.164 phone (purpose accounts.phone), or NULL
    phone_index     BYTEA,                 -- blind index of the phone, for inbound SMS, or NULL
    email_enc       BYTEA,                 -- sealed e-mail address (purpose accounts.email), or NULL
    language        TEXT NOT NULL DEFAULT 'fi' CHECK (language IN ('fi', 'sv', 'en')), -- notices
    kdf_salt        BYTEA NOT NULL,        -- 16-byte PBKDF2 salt (protocol §3.3); not secret
    kdf_iterations  BIGINT NOT NULL,     -- PBKDF2 iterations, at least 600 000
    auth_verifier   BYTEA NOT NULL,        -- Argon2id string of the login auth key
    recovery_verifier BYTEA NOT NULL,      -- Argon2id string of the recovery auth key
    password_bundle BYTEA NOT NULL,        -- key bundle sealed under the password kek (§3.5)
    recovery_bundle BYTEA NOT NULL,        -- key bundle sealed under the recovery kek (§3.5)
    key_statement   BYTEA NOT NULL,        -- current signed key statement (§3.2)
    identity_key    BYTEA NOT NULL,        -- Ed25519 public key from the statement, for verifying
    encryption_key  BYTEA NOT NULL,        -- X25519 public key from the statement, for wraps
    created_at_ms   BIGINT NOT NULL,     -- enrollment time
    disabled_at_ms  BIGINT               -- set when an admin disables the account; NULL if active
);

CREATE INDEX accounts_phone_index ON accounts (phone_index) WHERE phone_index IS NOT NULL;

CREATE TABLE sessions (
    token_hash      BYTEA PRIMARY KEY,     -- SHA-256 of the bearer token; the token is never stored
    account_id      BYTEA NOT NULL REFERENCES accounts (id), -- whose session
    created_at_ms   BIGINT NOT NULL,     -- login time
    expires_at_ms   BIGINT NOT NULL,     -- unusable after this
    revoked_at_ms   BIGINT               -- logout or password change; NULL while valid
);

CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE booklets (
    id              BYTEA PRIMARY KEY,     -- 16-byte protocol booklet id
    created_by      BYTEA NOT NULL REFERENCES accounts (id), -- the therapist who opened it
    created_at_ms   BIGINT NOT NULL,     -- when
    last_seq        BIGINT NOT NULL DEFAULT 0, -- sequence of the newest entry; 0 when empty
    last_hash       BYTEA NOT NULL,        -- entry hash of the newest entry; 32 zero bytes if none
    members_version BIGINT NOT NULL DEFAULT 1 -- bumped on every membership change
);

CREATE TABLE members (
    booklet_id      BYTEA NOT NULL REFERENCES booklets (id), -- which booklet
    account_id      BYTEA NOT NULL REFERENCES accounts (id), -- which account
    role            TEXT NOT NULL         -- therapist writes homework; guardian, caregiver
                    CHECK (role IN ('therapist', 'guardian', 'caregiver')),
    joined_at_ms    BIGINT NOT NULL,     -- when they joined
    joined_seq      BIGINT NOT NULL,     -- the booklet's last_seq when they joined
    removed_at_ms   BIGINT,              -- removal or leaving; NULL while a current member
    PRIMARY KEY (booklet_id, account_id)
);

CREATE INDEX members_account ON members (account_id) WHERE removed_at_ms IS NULL;

CREATE TABLE entries (
    booklet_id      BYTEA NOT NULL REFERENCES booklets (id), -- which booklet
    seq             BIGINT NOT NULL,     -- per-booklet sequence from the envelope header
    entry_id        BYTEA NOT NULL UNIQUE, -- 16-byte protocol entry id
    author_id       BYTEA NOT NULL REFERENCES accounts (id), -- who sealed and signed it
    kind            BIGINT NOT NULL,     -- envelope kind byte (title, note, homework…)
    created_at_ms   BIGINT NOT NULL,     -- the author's clock, from the header
    received_at_ms  BIGINT NOT NULL,     -- the server's clock
    entry_hash      BYTEA NOT NULL,        -- protocol entry hash; the next entry's prev_hash
    envelope        BYTEA NOT NULL,        -- the sealed, signed envelope; ciphertext only
    PRIMARY KEY (booklet_id, seq)
);

CREATE TABLE entry_access (
    booklet_id      BYTEA NOT NULL,        -- booklet of the entry
    account_id      BYTEA NOT NULL,        -- an account that holds the entry's key
    seq             BIGINT NOT NULL,     -- the entry
    via_grant       BIGINT NOT NULL DEFAULT 0, -- 1 when the key came by a history grant
    PRIMARY KEY (booklet_id, account_id, seq)
);

CREATE TABLE grants (
    id              BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, -- internal id
    booklet_id      BYTEA NOT NULL REFERENCES booklets (id), -- which booklet
    granter_id      BYTEA NOT NULL REFERENCES accounts (id), -- who re-wrapped the keys
    grantee_id      BYTEA NOT NULL REFERENCES accounts (id), -- who receives them
    created_at_ms   BIGINT NOT NULL,     -- server time
    blob            BYTEA NOT NULL         -- the signed grant (protocol §5)
);

CREATE INDEX grants_grantee ON grants (booklet_id, grantee_id);

CREATE TABLE receipts (
    booklet_id      BYTEA NOT NULL,        -- which booklet
    account_id      BYTEA NOT NULL,        -- who read
    read_seq        BIGINT NOT NULL,     -- every entry up to this sequence is read
    read_at_ms      BIGINT NOT NULL,     -- when the receipt was last moved
    PRIMARY KEY (booklet_id, account_id)
);
