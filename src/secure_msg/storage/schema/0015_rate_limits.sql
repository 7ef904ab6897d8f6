-- 0015: failed login, recovery and inbound attempts, counted in the database so that every
-- process on it shares the limits (services/shared_limits.py). The key is an HMAC under the
-- blind-index key, never a login name, address or number in clear; rows go once expired.

CREATE TABLE rate_limit_failures (
    id              INTEGER PRIMARY KEY,  -- row id, to forget one failure
    scope           TEXT NOT NULL,        -- which limit ("login.pair", "inbound.cancel", ...)
    key_hash        BLOB NOT NULL,        -- HMAC-SHA256 of the limit's key (blind-index key)
    at_ms           INTEGER NOT NULL,     -- when the failure was counted (wall clock)
    expires_ms      INTEGER NOT NULL      -- when its window ends and the row may go
) STRICT;

CREATE INDEX rate_limit_failures_key ON rate_limit_failures (scope, key_hash, at_ms);
CREATE INDEX rate_limit_failures_expiry ON rate_limit_failures (expires_ms);
