-- 0014 (PostgreSQL): the therapist's signed roster of each booklet (docs/protocol.md §6.6), and
-- invitations that carry trust (§6.7): the record she signed and the history grant sealed to the
-- invitation key, and the join proof each member made with it. All are public-key objects or
-- ciphertext; the invitation secret never reaches the server.

CREATE TABLE booklet_rosters (
    booklet_id      BYTEA PRIMARY KEY REFERENCES booklets (id), -- one roster per booklet
    version         BIGINT NOT NULL CHECK (version >= 1), -- the roster's own version; only rises
    roster          BYTEA NOT NULL,        -- the signed roster (type 0x60)
    updated_at_ms   BIGINT NOT NULL        -- when it was stored
);

CREATE TABLE invitation_trust (
    invitation_id   BIGINT PRIMARY KEY REFERENCES invitations (id), -- which invitation
    booklet_id      BYTEA NOT NULL REFERENCES booklets (id), -- the booklet it is for
    invitation_ik   BYTEA NOT NULL,        -- the invitation's Ed25519 key, from the record
    record          BYTEA NOT NULL,        -- the invitation record (type 0x61), therapist-signed
    grant_blob      BYTEA,                 -- history grant to the invitation key (§5), or NULL
    created_at_ms   BIGINT NOT NULL        -- when it was stored
);

CREATE UNIQUE INDEX invitation_trust_key ON invitation_trust (booklet_id, invitation_ik);

CREATE TABLE join_proofs (
    booklet_id      BYTEA NOT NULL REFERENCES booklets (id), -- which booklet
    account_id      BYTEA NOT NULL REFERENCES accounts (id), -- the member who joined
    invitation_id   BIGINT NOT NULL UNIQUE REFERENCES invitations (id), -- with which invitation
    proof           BYTEA NOT NULL,        -- the join proof (type 0x62), invitation-key-signed
    created_at_ms   BIGINT NOT NULL,       -- when it was stored
    PRIMARY KEY (booklet_id, account_id)
);
