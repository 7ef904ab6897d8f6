"""State of the local Twilio-compatible server: stored messages and signed status callbacks.

After a message is accepted it moves to `sent`, then `delivered` (or
`undelivered` / `failed` when a fault says so), and each step is POSTed to the
message's StatusCallback, signed with X-Twilio-Signature like Twilio does.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import aiohttp

from secure_msg.channels.segments import count_segments
from secure_msg.testing.twilio_faults import FaultBook
from secure_msg.testing.twilio_webhooks import API_VERSION, signature_headers

_DELIVERY_ERROR = {"undelivered": 30003, "failed": 30008}


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class StoredMessage:
    sid: str
    account_sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    status_callback: str | None
    date_created: datetime
    status: str = "queued"
    date_sent: datetime | None = None
    date_updated: datetime | None = None
    error_code: int | None = None
    # Content templates (WhatsApp): the ContentSid and ContentVariables (JSON) as received.
    content_sid: str | None = None
    content_variables: str | None = None

    def resource(self) -> dict[str, Any]:
        """The Message resource as the 2010-04-01 API renders it."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": format_datetime(self.date_created),
            "date_sent": format_datetime(self.date_sent) if self.date_sent else None,
            "date_updated": format_datetime(self.date_updated or self.date_created),
            "direction": "outbound-api",
            "error_code": self.error_code,
            "error_message": None,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(count_segments(self.body)),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {
                "media": f"{uri}/Media.json",
                "feedback": f"{uri}/Feedback.json",
            },
            "to": self.to,
            "uri": f"{uri}.json",
        }


@dataclass
class TwilioDevState:
    """Everything the server received and its fault rules; tests may read it directly."""

    account_sid: str
    auth_token: str = field(repr=False)
    callback_delay: float = 0.05
    messages: dict[str, StoredMessage] = field(default_factory=dict)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    reads: list[dict[str, Any]] = field(default_factory=list)  # list and fetch requests
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    faults: FaultBook = field(default_factory=FaultBook)
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    session: aiohttp.ClientSession | None = None

    def reset(self) -> None:
        self.messages.clear()
        self.attempts.clear()
        self.reads.clear()
        self.callbacks.clear()
        self.faults.clear()


def start_delivery(state: TwilioDevState, message: StoredMessage, outcome: str | None) -> None:
    task = asyncio.get_running_loop().create_task(_deliver(state, message, outcome))
    state.tasks.add(task)
    task.add_done_callback(state.tasks.discard)


async def _deliver(state: TwilioDevState, message: StoredMessage, outcome: str | None) -> None:
    """Move the message to sent, then delivered (or `outcome`), posting a callback each time."""
    for status in ("sent", outcome or "delivered"):
        await asyncio.sleep(state.callback_delay)
        message.status = status
        message.date_updated = now()
        if status == "sent":
            message.date_sent = message.date_updated
        message.error_code = _DELIVERY_ERROR.get(status)
        if message.status_callback:
            await _post_callback(state, message)


async def _post_callback(state: TwilioDevState, message: StoredMessage) -> None:
    params = {
        "AccountSid": message.account_sid,
        "ApiVersion": API_VERSION,
        "From": message.from_ or "",
        "MessageSid": message.sid,
        "MessageStatus": message.status,
        "SmsSid": message.sid,
        "SmsStatus": message.status,
        "To": message.to,
    }
    if message.messaging_service_sid:
        params["MessagingServiceSid"] = message.messaging_service_sid
    if message.error_code is not None:
        params["ErrorCode"] = str(message.error_code)
    url = str(message.status_callback)
    record: dict[str, Any] = {"url": url, "params": params, "status": None, "error": None}
    state.callbacks.append(record)
    if state.session is None:
        record["error"] = "server not running"
        return
    try:
        async with state.session.post(
            url, data=params, headers=signature_headers(state.auth_token, url, params)
        ) as response:
            record["status"] = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:  # Twilio just logs a failed callback
        record["error"] = type(exc).__name__
