"""Logs carry no phone numbers, e-mail addresses, tokens or content (invariant 8)."""

from __future__ import annotations

import io
import json
import logging
import random
import time
import urllib.request
from pathlib import Path

from secure_msg import base64url
from secure_msg.crypto.recovery import format_recovery_key
from secure_msg.logging import (
    BlockWriteHandler,
    JsonFormatter,
    configure_logging,
    log_event,
    redact,
    redact_text,
)
from secure_msg.testing.server_process import start_server

PHONE = "+358 40 123 4567"
TOKEN = "3n6Viqn4ybaA4Mz39t3O9BVF_FzlRZfT17bDB9g1rqE"
CANARY = "CANARY-kissa-koira-4711"


def _capture() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.redaction")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_phone_token_email_and_canary_never_reach_the_output() -> None:
    """Free text and sensitive fields are masked; structural fields survive."""
    logger, stream = _capture()
    logger.info("sms to %s failed, Authorization: Bearer %s", PHONE, TOKEN)
    log_event(logger, logging.INFO, "entry.posted", route="/api/x", status=201,
              body=CANARY, ciphertext=CANARY, token=TOKEN, password=CANARY,
              contact="maija@example.fi", note_title=CANARY, nested={"auth": CANARY})
    try:
        raise ValueError(f"bad number {PHONE} with {TOKEN}")
    except ValueError:
        logger.exception("failed")
    output = stream.getvalue()
    for secret in (PHONE, "401234567", TOKEN, CANARY, "maija@example.fi"):
        assert secret not in output
    record = json.loads(output.splitlines()[1])
    assert record["route"] == "/api/x"
    assert record["status"] == 201
    assert record["event"] == "entry.posted"


def test_redact_masks_national_phone_formats_and_bytes() -> None:
    """Finnish national formats and raw bytes are masked too."""
    assert "040" not in redact("call 040-123 4567 now")
    assert redact(b"\x00" * 10) == "[10 bytes]"


def test_addresses_versions_dates_and_names_stay_readable() -> None:
    """What operators need is not masked as a phone or a token (issue 14, defect 9): IP
    addresses and ports, versions, dates and times, exception classes, function names,
    problem types and setting names."""
    readable = [
        "connect to 127.0.0.1:8080 refused", "from 10.200.300.400", "Python 3.11.7 aiohttp 3.14.5",
        "due 2026-12-07 10:00:00+02:00", "took 12345 ms", "ClientConnectionResetError: closing",
        'line 876, in _read_until_first_boundary', "problem whatsapp-template-missing",
        "set SECURE_MSG_TWILIO_AUTH_TOKEN", "test_the_servers_request_lines_reach_i0",
        "ClientConnectorCertificateError",
    ]
    assert [redact_text(text) for text in readable] == readable


def test_phones_tokens_and_emails_are_still_masked() -> None:
    """Phone numbers in international and national spellings, 20 000 random session tokens,
    hex ids, Twilio SIDs and recovery keys are masked, and no part of a token survives."""
    phones = ["+358 40 123 4567", "+358401234567", "00358 40 123 4567", "040-123 4567",
              "0401234567", "(09) 123 4567", "+1 (555) 123-4567"]
    for phone in phones:
        assert redact_text(f"to {phone}.") == "to [redacted-phone].", phone
    draw = random.Random(14)
    secrets = [base64url.encode(draw.randbytes(32)) for _ in range(20_000)]
    secrets += [draw.randbytes(16).hex() for _ in range(1000)]
    secrets += ["SM" + draw.randbytes(16).hex() for _ in range(1000)]
    secrets += [format_recovery_key(draw.randbytes(20)) for _ in range(1000)]
    secrets.append("abcDEF0123456789ghij-0401234567-klmnOPQR9876543210")
    for secret in secrets:
        masked = redact_text(f"got {secret} here")
        assert masked == "got [redacted-token] here", masked


def test_configure_logging_writes_json_lines() -> None:
    """The root handler emits one JSON object per line."""
    stream = io.StringIO()
    configure_logging("INFO", stream)
    logging.getLogger("secure_msg.test").info("hello %s", PHONE)
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["level"] == "INFO"
    assert PHONE not in line["event"]
    logging.getLogger().handlers.clear()


def test_block_writes_flush_warnings_at_once_and_info_within_the_interval(
    tmp_path: Path,
) -> None:
    """INFO lines reach the file within the interval with nothing else logged; a WARNING
    (and everything before it) is on disk as soon as it is logged; close writes the rest."""
    path = tmp_path / "server.log"
    stream = path.open("w", buffering=65536, encoding="utf-8")
    handler = BlockWriteHandler(stream, interval=0.2)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.blocks")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        logger.info("first")
        deadline = time.monotonic() + 3
        while "first" not in path.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "first" in path.read_text()
        handler._stop.set()  # no more timed flushes: what follows must not depend on them
        time.sleep(0.3)
        logger.info("second")
        assert "second" not in path.read_text()  # buffered
        logger.warning("third")
        assert [json.loads(x)["event"] for x in path.read_text().splitlines()] == [
            "first", "second", "third"]
        logger.info("fourth")
        handler.close()
        assert path.read_text().splitlines()[-1].find("fourth") > 0
    finally:
        logger.removeHandler(handler)
        stream.close()


def test_the_servers_request_lines_reach_its_log_file(tmp_path: Path) -> None:
    """`secure-msg serve` (a subprocess): a request's line is in the file within a second, and
    every line is there after a clean stop (SIGTERM)."""
    server = start_server(tmp_path)

    def request_lines() -> int:
        return sum(1 for line in server.log_path.read_text().splitlines()
                   if line.startswith("{") and json.loads(line).get("route") == "/healthz")

    try:
        before = request_lines()
        urllib.request.urlopen(server.url("/healthz"), timeout=10).read()  # noqa: S310 - loopback
        deadline = time.monotonic() + 2
        while request_lines() == before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert request_lines() == before + 1
        for _ in range(3):
            urllib.request.urlopen(server.url("/healthz"), timeout=10).read()  # noqa: S310
    finally:
        assert server.stop() == 0
    assert request_lines() == before + 4
