"""The one runtime step between storage SQL and PostgreSQL: `?` placeholders become psycopg's
`%s`, and a literal `%` is doubled, everywhere but inside quotes and comments."""

from __future__ import annotations

import pytest

from secure_msg.storage.pg_txn import to_pyformat


@pytest.mark.parametrize(("sql", "expected"), [
    ("SELECT a FROM t WHERE b = ? AND c IN (?, ?)",
     "SELECT a FROM t WHERE b = %s AND c IN (%s, %s)"),
    ("SELECT ? || '?' || \"col?\"", "SELECT %s || '?' || \"col?\""),
    ("SELECT 'it''s ?', ?", "SELECT 'it''s ?', %s"),
    ("SELECT a % 2 FROM t WHERE b LIKE '50%' AND c = ?",
     "SELECT a %% 2 FROM t WHERE b LIKE '50%%' AND c = %s"),
    ("SELECT 1 -- why? 100%\n, ?", "SELECT 1 -- why? 100%%\n, %s"),
    ("SELECT 1", "SELECT 1"),
])
def test_placeholders_become_pyformat_outside_quotes_and_comments(sql: str, expected: str) -> None:
    assert to_pyformat(sql) == expected


def test_an_unterminated_quote_is_refused() -> None:
    with pytest.raises(ValueError, match="unterminated"):
        to_pyformat("SELECT 'oops, ?")
