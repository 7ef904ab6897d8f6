-- 0016 (PostgreSQL): attachments' bytes in the database (issue 18), so that every app process
-- on it reads every blob (storage/pg_blobs.py). A blob is stored as consecutive parts of at
-- most [storage/pg_blobs.py] PART_BYTES each, written in a transaction of their own (not the
-- writer's) and committed before the `blobs` row that names the blob; parts no row names
-- (an upload whose row was never recorded, a crash) are deleted by age.

CREATE TABLE blob_chunks (
    blob_id         BYTEA NOT NULL,      -- the blob (blobs.id, once its row is recorded)
    start_byte      BIGINT NOT NULL,     -- where this part starts in the blob
    booklet_id      BYTEA NOT NULL,      -- the blob's booklet (a purge deletes its parts)
    created_at_ms   BIGINT NOT NULL,     -- when its upload began; orphans expire from it
    data            BYTEA NOT NULL,      -- the part's ciphertext, as uploaded
    PRIMARY KEY (blob_id, start_byte)
);

CREATE INDEX blob_chunks_booklet ON blob_chunks (booklet_id);
-- Ciphertext does not compress: keep it out of line without trying (no pglz pass per part).
ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
