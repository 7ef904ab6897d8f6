-- 0008 (PostgreSQL) (allotted 0010, renumbered at merge): a booklet's access log (issue 17 item 5) reads the
-- audit events whose target is that booklet, newest first, a page at a time. Without this index
-- every page scanned the whole chain. The table stays append-only (its triggers are untouched);
-- the index is derived data.

CREATE INDEX audit_events_target_seq ON audit_events (target, seq);
