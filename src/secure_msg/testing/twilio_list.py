"""The Messages list of the local Twilio-compatible server: filters and paging as Twilio's
OpenAPI description (2010-04-01) has them.

Filters: `To`, `From`, and `DateSent` / `DateSent<` / `DateSent>` (on, on or before, on or
after). A date-only value compares the day of `date_sent` (GMT); a date and time compares the
instant. Twilio's examples take `YYYY-MM-DD`, ISO 8601 (what the SDK sends), RFC 2822,
`YYYY-MM-DD HH:MM:SS.000` and `MM/DD/YYYY HH:MM:SS TZ`. A message with no `date_sent` yet
(queued, accepted) matches no DateSent filter.

Paging: newest first. `PageSize` (1 to 1000, default 50) and `Page` (a number "for client state");
`next_page_uri` carries a `PageToken` that names the last message of the page, so the next page
continues after it even when new messages arrive in between, as Twilio's cursor tokens do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

from secure_msg.testing.twilio_state import StoredMessage

FILTERS = ("To", "From", "DateSent", "DateSent<", "DateSent>")
_US_ZONES = {"GMT": 0, "UTC": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7,
             "MDT": -6, "PST": -8, "PDT": -7}
TOKEN_PREFIX = "PA"  # noqa: S105 - a page cursor, not a secret


class ListError(ValueError):
    """A query Twilio would answer with 400."""


def parse_when(value: str) -> date | datetime:
    """A DateSent value: a date, or an aware datetime."""
    text = value.strip()
    try:
        return date.fromisoformat(text) if len(text) == 10 else _datetime(text)
    except ValueError:
        raise ListError(f"Invalid DateSent value: {value}") from None


def _datetime(text: str) -> datetime:
    for parse in (_iso, _rfc2822, _us):
        try:
            return parse(text)
        except (ValueError, TypeError, IndexError, KeyError):
            continue
    raise ValueError(text)


def _iso(text: str) -> datetime:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _rfc2822(text: str) -> datetime:
    when = parsedate_to_datetime(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)  # "-0000": GMT, as Twilio means


def _us(text: str) -> datetime:
    stamp, zone = text.rsplit(" ", 1)
    when = datetime.strptime(stamp, "%m/%d/%Y %H:%M:%S")  # the zone is applied below
    return when.replace(tzinfo=timezone(timedelta(hours=_US_ZONES[zone.upper()])))


def _compare(sent: datetime, bound: date | datetime) -> int:
    """-1, 0 or 1 as `sent` is before, on or after `bound` (a day, or an instant)."""
    left: date | datetime = sent.astimezone(UTC)
    if not isinstance(bound, datetime):
        left = left.date() if isinstance(left, datetime) else left
    return (left > bound) - (left < bound)


_DATE_TESTS: Mapping[str, Callable[[int], bool]] = {
    "DateSent": lambda c: c == 0, "DateSent<": lambda c: c <= 0, "DateSent>": lambda c: c >= 0,
}


def matches(message: StoredMessage, query: Mapping[str, str]) -> bool:
    """Whether `message` passes every filter in `query`."""
    if "To" in query and query["To"] != message.to:
        return False
    if "From" in query and query["From"] != (message.from_ or ""):
        return False
    for name, test in _DATE_TESTS.items():
        if name in query:
            if message.date_sent is None:
                return False
            if not test(_compare(message.date_sent, parse_when(query[name]))):
                return False
    return True


@dataclass(frozen=True)
class Paging:
    size: int
    number: int
    token: str | None


def paging(query: Mapping[str, str]) -> Paging:
    try:
        size = int(query.get("PageSize", "50"))
        number = int(query.get("Page", "0"))
    except ValueError:
        raise ListError("Invalid paging parameters") from None
    if not 1 <= size <= 1000 or number < 0:
        raise ListError("PageSize must be 1 to 1000 and Page at least 0")
    token = query.get("PageToken")
    if token is not None and not token.startswith(TOKEN_PREFIX):
        raise ListError("Invalid PageToken")
    return Paging(size, number, token)


def _start(found: Sequence[StoredMessage], page: Paging) -> int:
    if page.token is None:
        return page.number * page.size
    last = page.token[len(TOKEN_PREFIX):]
    for index, message in enumerate(found):
        if message.sid == last:
            return index + 1
    raise ListError("Invalid PageToken")


def list_page(messages: Sequence[StoredMessage], query: Mapping[str, str], base: str
              ) -> dict[str, Any]:
    """The list answer for `query` over `messages` (stored oldest first)."""
    page = paging(query)
    # Newest first; of two created in the same instant, the one stored later comes first.
    found = [m for m in sorted(reversed(messages), key=lambda m: m.date_created, reverse=True)
             if matches(m, query)]
    start = _start(found, page)
    chunk = found[start:start + page.size]
    filters = {k: query[k] for k in FILTERS if k in query}

    def uri(number: int, token: str | None = None) -> str:
        params: dict[str, Any] = {**filters, "PageSize": page.size, "Page": number}
        if token is not None:
            params["PageToken"] = token
        return f"{base}?{urlencode(params)}"

    has_next = start + len(chunk) < len(found)
    return {
        "messages": [m.resource() for m in chunk],
        "end": start + max(len(chunk) - 1, 0),
        "first_page_uri": uri(0),
        "next_page_uri": uri(page.number + 1, TOKEN_PREFIX + chunk[-1].sid) if has_next
        else None,
        "page": page.number,
        "page_size": page.size,
        "previous_page_uri": uri(page.number - 1) if page.number > 0 else None,
        "start": start,
        "uri": uri(page.number, page.token),
    }
