-- 0016: attachments' bytes in the database, for PostgreSQL (issue 18; its twin,
-- postgresql/0016_blob_chunks.sql, says how). On SQLite blobs stay files in the blob
-- directory (storage/blob_files.py) and this table stays empty: it exists so that both
-- dialects have the same tables and columns (tests/storage/test_migrations.py), and so that
-- `admin migrate-to-postgresql` may copy every table of one into the other.

CREATE TABLE blob_chunks (
    blob_id         BLOB NOT NULL,       -- the blob (blobs.id, once its row is recorded)
    start_byte      INTEGER NOT NULL,    -- where this part starts in the blob
    booklet_id      BLOB NOT NULL,       -- the blob's booklet (a purge deletes its parts)
    created_at_ms   INTEGER NOT NULL,    -- when its upload began; orphans expire from it
    data            BLOB NOT NULL,       -- the part's ciphertext, as uploaded
    PRIMARY KEY (blob_id, start_byte)
) STRICT, WITHOUT ROWID;

CREATE INDEX blob_chunks_booklet ON blob_chunks (booklet_id);
