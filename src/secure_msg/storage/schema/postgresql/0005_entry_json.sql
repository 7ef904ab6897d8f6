-- 0005 (PostgreSQL): each entry's API JSON, written once at insert (domain/entry_json.py). A page of 50 is then
-- the stored texts joined instead of 100 base64 encodings and 100 ISO times on the event loop
-- (docs/performance.md, "Reading"). NULL for entries stored before this version, and after any
-- future change of the shape: those are written from their columns when read.

ALTER TABLE entries ADD COLUMN json TEXT;  -- the entry as the API answers it; NULL: write from columns
