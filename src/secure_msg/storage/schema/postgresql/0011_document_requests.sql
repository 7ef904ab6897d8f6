-- 0011 (PostgreSQL): document requests (issue 17, item 2; model/document_requests.py). Metadata only, of the
-- same sort as an appointment: which booklet, which guardian asked, a fixed kind, when, an
-- optional due day, and the entry that fulfilled it. No free text: the family's own words
-- about the request travel as an ordinary encrypted entry.

CREATE TABLE document_requests (
    id              BYTEA PRIMARY KEY,     -- 16 random bytes chosen by the server
    booklet_id      BYTEA NOT NULL REFERENCES booklets (id), -- the booklet it was asked in
    requester_id    BYTEA NOT NULL REFERENCES accounts (id), -- the guardian who asked
    kind            TEXT NOT NULL         -- what is asked for: a fixed list, never free text
                    CHECK (kind IN ('statement', 'plan', 'other')),
    status          TEXT NOT NULL         -- model/document_requests.py TRANSITIONS
                    CHECK (status IN ('open', 'done', 'withdrawn')),
    created_at_ms   BIGINT NOT NULL,     -- when it was asked
    due             TEXT,                 -- YYYY-MM-DD, or NULL: no date given
    done_by_seq     BIGINT,              -- the document entry that fulfilled it
    closed_by       BYTEA,                 -- who fulfilled or withdrew it
    closed_at_ms    BIGINT,              -- when it was fulfilled or withdrawn
    FOREIGN KEY (booklet_id, done_by_seq) REFERENCES entries (booklet_id, seq)
);

CREATE INDEX document_requests_booklet ON document_requests (booklet_id, status);
