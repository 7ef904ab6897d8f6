-- 0012 (PostgreSQL): a document shared with someone outside the booklet (issue 17 item 3, docs/protocol.md
-- §4.8). The server holds the sealed record (the file's key sealed under a key from a link
-- secret it never sees and an SMS code) and a verifier of the access token; never the link
-- secret, the key or the code (the code goes out sealed in the notice's slots, then is gone).

CREATE TABLE shares (
    id              BYTEA PRIMARY KEY,     -- 16 bytes drawn by the sharer's device (in the link)
    booklet_id      BYTEA NOT NULL REFERENCES booklets (id), -- the booklet of the file
    blob_id         BYTEA NOT NULL REFERENCES blobs (id), -- the file's blob (attached)
    entry_seq       BIGINT NOT NULL,     -- the entry that lists it
    sharer_id       BYTEA NOT NULL REFERENCES accounts (id), -- who shared it
    sealed          BYTEA NOT NULL,        -- §4.8 type 0x51: opaque to the server
    verifier        BYTEA NOT NULL,        -- SHA-256 of the access token (§4.8)
    phone_hint      TEXT NOT NULL,        -- the last 3 digits of the number the code went to
    created_at_ms   BIGINT NOT NULL,     -- when it was shared
    expires_at_ms   BIGINT NOT NULL,     -- no open from then on
    max_opens       BIGINT NOT NULL,     -- opens it allows (1: one-time)
    opens           BIGINT NOT NULL DEFAULT 0, -- opens so far
    failures        BIGINT NOT NULL DEFAULT 0, -- wrong tokens; the share locks at the limit
    last_open_ms    BIGINT,              -- the blob may be fetched for a while after an open
    revoked_at_ms   BIGINT,              -- when it was withdrawn; NULL while not
    revoked_by      BYTEA REFERENCES accounts (id) -- who withdrew it
);

CREATE INDEX shares_booklet ON shares (booklet_id, created_at_ms);
