-- 0006 (PostgreSQL): each account's sealed client state (docs/protocol.md §6.5): the pins, checkpoints and
-- record of whom entries were sealed to that the account's clients keep, sealed by them to the
-- account's own key. The server stores and versions it (compare-and-swap) and cannot open it.
-- A rowid table, not WITHOUT ROWID: blobs of up to limits.client_state_bytes would otherwise
-- sit inside the key b-tree (see 0004).

CREATE TABLE client_state (
    account_id      BYTEA PRIMARY KEY REFERENCES accounts (id), -- whose state; one per account
    version         BIGINT NOT NULL CHECK (version >= 1), -- the blob's own version; only rises
    blob            BYTEA NOT NULL,        -- the sealed client state (type 0x40); ciphertext only
    updated_at_ms   BIGINT NOT NULL      -- when it was last written
);
