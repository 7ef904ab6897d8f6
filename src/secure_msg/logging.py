"""JSON log lines, every one through `redact` first (DESIGN §1.8: no tokens, phones, bodies).

Use `get_logger(__name__)` and pass structured context as keyword fields:

    log_event(log, logging.INFO, "invitation.created", role="therapist", invitation_id=7)

Both the message and every field value pass the redaction step, as does an exception's
traceback. Fields whose *name* suggests a secret or content (token, password, auth, body,
ciphertext, …) are masked whatever their value.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import IO, Any

MASK = "[redacted]"

# Field names whose values are never logged, matched as substrings of the lower-cased name.
SENSITIVE_KEY_PARTS = (
    "token", "password", "passwd", "secret", "auth", "body", "ciphertext", "key", "cookie",
    "phone", "email", "name", "title", "text", "note", "content", "salt", "signature",
)
# Structural names that contain a sensitive part but are safe and useful to log.
SAFE_KEYS = frozenset({"logger", "route", "method", "status", "event", "duration_ms", "level"})

# Phone numbers: +358 40 123 4567, +358401234567, 00358 40 123 4567, 040-123 4567, (09) 123 4567,
# +1 (555) 123-4567: 7 to 15 digits in groups joined by one space or hyphen, after an optional
# + or 00 and country code, an area code optionally in parentheses. Not inside a word, a token
# or a dotted or colon-separated number (127.0.0.1, 3.11.7, 10:00:00), and not an ISO date
# (2026-12-07): those are what operators read, and a token cut in two by a phone mask would
# leave its halves unmasked.
_PHONE = re.compile(
    r"(?<![\w.:-])(?!\d{4}-\d\d-\d\d(?!\d))(?:(?:\+|00)(?:\d{1,3}[ -]?)?)?"
    r"(?:\(\d{1,4}\)[ -]?)?\d(?:[ -]?\d){6,14}"
    r"(?![\w-]|[.:]\d)"
)
# Long base64url/hex runs: invitation and session tokens, keys, hashes, SIDs.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{24,}={0,2}")
# Long runs that are names, not secrets: kebab-case (problem types), snake_case and SCREAMING_CASE
# (functions, settings), CamelCase (exception classes). A random 43-character token has one of
# these shapes with odds below one in a million (none of a million drawn; the recovery key's
# groups never: they are kebab with digits or SCREAMING with hyphens). tests/test_logging_redaction
# draws 20 000.
_WORDS = r"(?:[a-z0-9]+|[A-Z0-9]+|[A-Z][a-z0-9]+)"
_NAME = re.compile(rf"[a-z]+(?:-[a-z]+)+|_*{_WORDS}(?:_+{_WORDS})+_*|[A-Za-z]+")


def _token_unless_name(match: re.Match[str]) -> str:
    run = match[0]
    if _NAME.fullmatch(run) and (not run.isalpha() or _few_capitals(run)):
        return run
    return "[redacted-token]"


def _few_capitals(run: str) -> bool:
    """CamelCase words have a capital every four letters or fewer; random letters every other."""
    return sum(c.isupper() for c in run) <= len(run) // 4


_PATTERNS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"\b((?i:bearer|basic))\s+[A-Za-z0-9._~+/=-]+"), r"\1 [redacted-token]"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[redacted-email]"),
    (_PHONE, "[redacted-phone]"),
    (_TOKEN, _token_unless_name),
)


# What each pattern needs at least (a superset of their matches): most log text (events, route
# templates) has none of it, and this one search costs less than the patterns' own.
_ANY = re.compile(r"(?i:bearer|basic)\s|@|\d(?:[ -]?\d){6}|\(\d|[A-Za-z0-9_-]{24}")


def redact_text(text: str) -> str:
    """Mask tokens, e-mail addresses and phone numbers inside free text."""
    if _ANY.search(text) is None:
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


@functools.lru_cache(maxsize=512)  # keys are field names chosen in code: a small, fixed set
def _is_sensitive_key(key: str) -> bool:
    lowered = key.lower()
    return lowered not in SAFE_KEYS and any(part in lowered for part in SENSITIVE_KEY_PARTS)


def redact(value: Any, key: str = "") -> Any:
    """Return a copy of `value` that is safe to log."""
    if key and _is_sensitive_key(key):
        return MASK
    if type(value) is str:  # the common case first
        return redact_text(value)
    if isinstance(value, Mapping):
        return {str(k): redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v) for v in value]
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return f"[{len(value)} bytes]"
    return redact_text(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event, redacted fields, redacted traceback."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "event": redact_text(record.getMessage()),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            for key, value in redact(fields).items():
                out.setdefault(key, value)
        if record.exc_info:
            out["exception"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False, default=str)


class BlockWriteHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Log lines in blocks: WARNING and above are flushed at once, other lines at most
    `interval` seconds later by a small daemon thread, and everything at exit.

    One write system call per request line cost the event loop more than the line itself
    (docs/performance.md, "Ingest"). kill -9 can lose the last `interval` of INFO lines; it never
    delays a warning or an error, and the audit log (in the database) is not a log line.
    """

    def __init__(self, stream: IO[str], interval: float = 0.5) -> None:
        super().__init__(stream)
        self._dirty = False
        self._stop = threading.Event()
        self._interval = interval
        threading.Thread(target=self._flush_every_interval, name="log-flush", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
            if record.levelno >= logging.WARNING:
                self.stream.flush()
            else:
                self._dirty = True
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def _flush_every_interval(self) -> None:
        while not self._stop.wait(self._interval):
            if self._dirty:
                self.flush()

    def flush(self) -> None:
        with self.lock if self.lock else contextlib.nullcontext():
            self._dirty = False
            super().flush()

    def close(self) -> None:
        self._stop.set()
        self.flush()
        super().close()


def _block_buffered_stderr() -> IO[str]:
    """stderr with a 64 KiB buffer (sys.stderr itself writes every line)."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real file behind it (e.g. captured)
        return sys.stderr
    raw = open(fd, "wb", buffering=65536, closefd=False)  # noqa: SIM115 - lives as long as logging
    return io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace")


def configure_logging(level: str = "INFO", stream: IO[str] | None = None) -> None:
    """Route every logger (ours, aiohttp's, asyncio's) through the JSON formatter, to `stream`
    (default: stderr, written in blocks by BlockWriteHandler)."""
    handler = BlockWriteHandler(stream if stream is not None else _block_buffered_stderr())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        if isinstance(old, BlockWriteHandler):
            old.close()  # stops its flush thread
    root.addHandler(handler)
    root.setLevel(level)
    # The formatter never prints caller, thread or process: skip collecting them per record
    # (the logging HOWTO's "Optimization" section; a third of a request line's cost).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # aiohttp's access log would print raw paths and query strings; web/middleware.py logs
    # requests itself, by route template.
    logging.getLogger("aiohttp.access").disabled = True


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)


def log_event(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """Log `event` with structured `fields` (redacted by the formatter)."""
    logger.log(level, event, extra={"fields": fields})
