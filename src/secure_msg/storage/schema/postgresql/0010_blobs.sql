-- 0010 (PostgreSQL): encrypted attachments (issue 17). A blob is an opaque file in the blob directory
-- ([blobs] directory, storage/blob_files.py), encrypted on the uploader's device; this table
-- holds what the server needs to authorise, count and expire it, and never a name or a type.
-- An upload is pending (entry_seq NULL) until an entry that lists it is posted; the list of an
-- entry's attachments is the blobs whose (booklet_id, entry_seq) is that entry.

CREATE TABLE blobs (
    id              BYTEA PRIMARY KEY,     -- 16 random bytes chosen by the server
    booklet_id      BYTEA NOT NULL REFERENCES booklets (id), -- the booklet it was uploaded into
    uploader_id     BYTEA NOT NULL REFERENCES accounts (id), -- who uploaded it
    size            BIGINT NOT NULL,     -- bytes of ciphertext stored
    sha256          BYTEA NOT NULL,        -- SHA-256 of the stored bytes (checks, backups)
    created_at_ms   BIGINT NOT NULL,     -- upload time; a pending blob expires from it
    entry_seq       BIGINT,              -- the entry that lists it; NULL while pending
    position        BIGINT,              -- its place in that entry's list; NULL while pending
    FOREIGN KEY (booklet_id, entry_seq) REFERENCES entries (booklet_id, seq)
);

CREATE INDEX blobs_entry ON blobs (booklet_id, entry_seq);
CREATE INDEX blobs_pending ON blobs (created_at_ms) WHERE entry_seq IS NULL;
