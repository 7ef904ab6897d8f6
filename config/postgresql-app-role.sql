-- The app's least-privilege role on PostgreSQL (docs/operations.md, "Roles").
--
-- Two roles: secure_msg_owner owns the schema and applies migrations
-- (`secure-msg admin migrate` with its connection string); secure_msg_app is what the
-- servers connect as. Run this as secure_msg_owner after each `admin migrate`
-- (psql -v ON_ERROR_STOP=1 -f config/postgresql-app-role.sql "$OWNER_DSN").
-- Rename the roles in the file if yours are named otherwise.

GRANT USAGE ON SCHEMA public TO secure_msg_app;

-- Rows: read and write, never TRUNCATE, never DDL.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO secure_msg_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO secure_msg_app;

-- The audit log is append-only for the app (its triggers refuse UPDATE and DELETE too; this
-- way the refusal does not depend on them), and only migrations record schema versions.
REVOKE UPDATE, DELETE ON audit_events FROM secure_msg_app;
REVOKE INSERT, UPDATE, DELETE ON schema_version FROM secure_msg_app;
