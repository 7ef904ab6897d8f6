"""Logs carry no phone numbers, e-mail addresses, tokens or content (invariant 8)."""

from __future__ import annotations

import io
import json
import logging

from secure_msg.logging import JsonFormatter, configure_logging, log_event, redact

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


def test_configure_logging_writes_json_lines() -> None:
    """The root handler emits one JSON object per line."""
    stream = io.StringIO()
    configure_logging("INFO", stream)
    logging.getLogger("secure_msg.test").info("hello %s", PHONE)
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["level"] == "INFO"
    assert PHONE not in line["event"]
    logging.getLogger().handlers.clear()
