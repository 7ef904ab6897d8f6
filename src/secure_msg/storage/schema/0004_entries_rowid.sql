-- 0004: entries becomes an ordinary rowid table. In 0002 it was WITHOUT ROWID, which stores
-- every 2 KiB envelope inside the primary-key b-tree: one or two rows per page, so each insert
-- into a busy booklet split and rewrote key pages, and the writer paid ≈ 35 % more per entry
-- (docs/performance.md, "Ingest"). (booklet_id, seq) stays unique through an index.

CREATE TABLE entries_v4 (
    id              INTEGER PRIMARY KEY,  -- internal row id; envelopes live in its b-tree
    booklet_id      BLOB NOT NULL REFERENCES booklets (id), -- which booklet
    seq             INTEGER NOT NULL,     -- per-booklet sequence from the envelope header
    entry_id        BLOB NOT NULL UNIQUE, -- 16-byte protocol entry id
    author_id       BLOB NOT NULL REFERENCES accounts (id), -- who sealed and signed it
    kind            INTEGER NOT NULL,     -- envelope kind byte (title, note, homework…)
    created_at_ms   INTEGER NOT NULL,     -- the author's clock, from the header
    received_at_ms  INTEGER NOT NULL,     -- the server's clock
    entry_hash      BLOB NOT NULL,        -- protocol entry hash; the next entry's prev_hash
    envelope        BLOB NOT NULL,        -- the sealed, signed envelope; ciphertext only
    UNIQUE (booklet_id, seq)
) STRICT;

INSERT INTO entries_v4 (booklet_id, seq, entry_id, author_id, kind, created_at_ms,
                        received_at_ms, entry_hash, envelope)
    SELECT booklet_id, seq, entry_id, author_id, kind, created_at_ms, received_at_ms,
           entry_hash, envelope
    FROM entries ORDER BY booklet_id, seq;

DROP TABLE entries;
ALTER TABLE entries_v4 RENAME TO entries;
