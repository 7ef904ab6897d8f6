"""Sending SMS: the gateway interface, a recording fake and the Twilio gateway.

The Twilio gateway drives the official SDK through a custom async HTTP
client (base URL rewritten, so dev and tests hit the local Twilio-compatible
server) with the SDK's own retries off; the retry policy is ours
(`sms_retry`). Callers get a typed outcome, never provider text, and nothing
here logs a phone number or a message body (DESIGN §1.8).

The HTTP client notes whether a request's headers were written before it failed: a failure
before that (refused, DNS, TLS) created nothing, one after it may have. For the outbox's
reconciliation the gateway also lists the messages it sent to a number (`find`) and reads one
message's status (`fetch_status`).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, Protocol, Self

import aiohttp
from twilio.base.exceptions import TwilioException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from secure_msg.channels.sms_retry import (
    AttemptFailure,
    FailureKind,
    GiveUp,
    RetryPolicy,
    classify_http_error,
    decide,
    parse_retry_after,
)
from secure_msg.config import TwilioConfig
from secure_msg.model.channel_policy import is_whatsapp_address

log = logging.getLogger(__name__)

TWILIO_API_BASE = "https://api.twilio.com"


@dataclass(frozen=True)
class Sent:
    """The provider accepted the message."""

    provider_sid: str
    attempts: int
    possible_duplicate: bool = False  # an earlier attempt failed ambiguously


@dataclass(frozen=True)
class RetryLater:
    """Not sent yet; the caller (the durable outbox) should try again later."""

    after_seconds: float
    reason: FailureKind
    attempts: int
    possible_duplicate: bool = False


@dataclass(frozen=True)
class Failed:
    """Permanently not sent; `reason` is a stable code, `error_code` Twilio's number if any."""

    reason: FailureKind
    attempts: int
    error_code: int | None = None
    possible_duplicate: bool = False


SendResult = Sent | RetryLater | Failed


class MessageLookup(Protocol):
    """What the outbox asks the provider about messages it may have created."""

    async def find(self, to: str, body: str | None, since: datetime) -> Found | AttemptFailure:
        ...

    async def fetch_status(self, sid: str) -> MessageStatus | AttemptFailure: ...


class SmsGateway(MessageLookup, Protocol):
    """Sends one SMS and reports a typed outcome; never raises for provider trouble."""

    async def send(self, to: str, body: str, status_callback: str | None = None) -> SendResult: ...


# --- Recording fake --------------------------------------------------------


@dataclass(frozen=True)
class RecordedSms:
    to: str
    body: str
    status_callback: str | None


class RecordingSmsGateway:
    """A gateway for unit tests: records every send and returns scripted outcomes.

    Without a script every send succeeds with a fake sid. Like the real one, it
    refuses `whatsapp:` addresses without recording them as sent. `find` and
    `fetch_status` answer from the sends that returned Sent.
    """

    def __init__(self, outcomes: Iterable[SendResult] = ()) -> None:
        self.sent: list[RecordedSms] = []
        self.created: list[tuple[str, RecordedSms, datetime]] = []
        self._script: list[SendResult] = list(outcomes)
        self._counter = 0

    def script(self, *outcomes: SendResult) -> None:
        """Queue outcomes returned by the next sends, in order."""
        self._script.extend(outcomes)

    async def send(self, to: str, body: str, status_callback: str | None = None) -> SendResult:
        if is_whatsapp_address(to):
            return Failed(FailureKind.NOT_AN_SMS_ADDRESS, attempts=0)
        record = RecordedSms(to, body, status_callback)
        self.sent.append(record)
        if self._script:
            result = self._script.pop(0)
        else:
            self._counter += 1
            result = Sent(provider_sid=f"SM{self._counter:032x}", attempts=1)
        if isinstance(result, Sent):
            self.created.append((result.provider_sid, record, _utcnow()))
        return result

    async def find(self, to: str, body: str | None, since: datetime) -> Found | AttemptFailure:
        return Found(tuple(sid for sid, r, at in self.created
                           if r.to == to and body in (None, r.body) and at >= since))

    async def fetch_status(self, sid: str) -> MessageStatus | AttemptFailure:
        if any(s == sid for s, _, _ in self.created):
            return MessageStatus("delivered")
        return AttemptFailure(FailureKind.REJECTED, 404)


# --- Twilio ----------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """What `find` saw at the provider: the sids of matching messages, oldest first."""

    sids: tuple[str, ...]


@dataclass(frozen=True)
class MessageStatus:
    """One message's status at the provider (`fetch_status`)."""

    status: str
    error_code: int | None = None


@dataclass
class _ResponseMeta:
    retry_after: str | None = None
    written: bool = False  # the request's headers went out: the provider may have acted on it


async def _on_headers_sent(session: aiohttp.ClientSession, context: SimpleNamespace,
                           params: aiohttp.TraceRequestHeadersSentParams) -> None:
    meta = _RESPONSE_META.get()
    if meta is not None:
        meta.written = True


def _trace_writes() -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(_on_headers_sent)
    return trace


# The SDK's exceptions drop response headers, so the HTTP client parks the
# Retry-After header here; a ContextVar keeps concurrent sends (tasks) apart.
_RESPONSE_META: contextvars.ContextVar[_ResponseMeta | None] = contextvars.ContextVar(
    "secure_msg_twilio_response_meta", default=None
)

# The SDK logs request URLs and query parameters at INFO; keep that out of our logs.
_sdk_http_log = logging.getLogger("secure_msg.channels.sms.twilio_http")
_sdk_http_log.setLevel(logging.WARNING)


class BaseUrlTwilioHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """The SDK's async client with https://api.twilio.com swapped for `base_url`.

    Must be created inside a running event loop (it opens an aiohttp session).
    """

    def __init__(self, base_url: str) -> None:
        super().__init__(pool_connections=True, logger=_sdk_http_log, max_retries=None,
                         trace_configs=[_trace_writes()])
        self.base_url = base_url.rstrip("/")

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the SDK's signature
        allow_redirects: bool = False,
    ) -> Response:
        if url.startswith(TWILIO_API_BASE):
            url = self.base_url + url[len(TWILIO_API_BASE) :]
        if auth is not None:  # aiohttp 3.14 deprecates the SDK's BasicAuth; send the header
            headers = {**(headers or {}), "Authorization": aiohttp.encode_basic_auth(*auth)}
        response = await super().request(
            method, url, params, data, headers, None, timeout, allow_redirects
        )
        meta = _RESPONSE_META.get()
        if meta is not None:
            meta.retry_after = (response.headers or {}).get("Retry-After")
        return response


@dataclass(frozen=True)
class TwilioSettings:
    """The Twilio account (the config's [twilio] section, whose token is a Secret that never
    shows in repr) and this gateway's sending limits."""

    account: TwilioConfig
    messaging_service_sid: str | None = None  # instead of the account's from_number
    request_timeout: float = 10.0  # enforced with asyncio.timeout: the SDK ignores its own
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_inline_wait: float = 5.0  # longer waits are handed back as RetryLater
    max_attempts_per_send: int = 10

    def __post_init__(self) -> None:
        if bool(self.account.from_number) == (self.messaging_service_sid is not None):
            raise ValueError("set exactly one of from_number and messaging_service_sid")
        if self.request_timeout <= 0 or self.max_attempts_per_send < 1:
            raise ValueError("request_timeout and max_attempts_per_send must be positive")


def _utcnow() -> datetime:
    return datetime.now(UTC)


FIND_PAGE_SIZE = 50
FIND_MAX_PAGES = 20  # a reconcile reads at most this many pages (1,000 messages to one number)


def _created(message: Any) -> datetime | None:
    created = getattr(message, "date_created", None)
    return created if isinstance(created, datetime) else None


class TwilioMessagesClient:
    """The SDK client and the retry loop shared by the SMS and WhatsApp gateways.

    Subclasses build the Messages-create fields; this class owns the HTTP client, one attempt
    (classified into an AttemptFailure) and the project's retry policy (`sms_retry`).
    """

    _what = "message"  # for the log lines: "sms", "whatsapp"

    def __init__(
        self,
        settings: TwilioSettings,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._settings = settings
        self._sleep = sleep
        self._rand = rand
        self._clock = clock
        self._http: BaseUrlTwilioHttpClient | None = None
        self._client: Any = None

    def _twilio(self) -> Any:
        # Created lazily: the SDK's HTTP client needs the running loop.
        if self._client is None:
            account = self._settings.account
            self._http = BaseUrlTwilioHttpClient(account.api_base_url)
            self._client = Client(
                account.account_sid, account.auth_token.reveal(), http_client=self._http
            )
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP session (safe to call twice or before any send)."""
        if self._http is not None:
            await self._http.close()
        self._http = None
        self._client = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _call(self, request: Callable[[], Awaitable[Any]]) -> Any | AttemptFailure:
        """Run one SDK request under our timeout; a failure comes back classified."""
        meta = _ResponseMeta()
        _RESPONSE_META.set(meta)
        try:
            async with asyncio.timeout(self._settings.request_timeout):
                return await request()
        except TimeoutError:
            return AttemptFailure(FailureKind.TIMEOUT if meta.written
                                  else FailureKind.UNREACHABLE)
        except TwilioException as exc:
            status = getattr(exc, "status", None)
            if not isinstance(status, int):
                return AttemptFailure(FailureKind.PROVIDER_ERROR)
            code = getattr(exc, "code", None)
            code = code if isinstance(code, int) and code != status else None
            retry_after = parse_retry_after(meta.retry_after, self._clock())
            return AttemptFailure(classify_http_error(status, code), status, code, retry_after)
        except aiohttp.ClientConnectorError:  # refused, DNS, TLS: nothing was written
            return AttemptFailure(FailureKind.UNREACHABLE)
        except (aiohttp.ClientError, OSError):
            return AttemptFailure(FailureKind.CONNECTION if meta.written
                                  else FailureKind.UNREACHABLE)
        except ValueError:  # a 2xx whose body is not the JSON we expect
            return AttemptFailure(FailureKind.PROVIDER_ERROR)

    async def _attempt_create(self, kwargs: Mapping[str, str]) -> str | AttemptFailure:
        message = await self._call(lambda: self._twilio().messages.create_async(**kwargs))
        if isinstance(message, AttemptFailure):
            return message
        sid = getattr(message, "sid", None)
        if not isinstance(sid, str) or not sid:
            return AttemptFailure(FailureKind.PROVIDER_ERROR)
        return sid

    def _sender_filter(self) -> dict[str, str]:
        """The list filter for messages we sent: our From number (subclasses: their sender)."""
        number = self._settings.account.from_number
        return {"from_": number} if number else {}

    def _is_ours(self, message: Any) -> bool:
        """Whether a listed message came from our sender (a Messaging Service picks its From)."""
        service = self._settings.messaging_service_sid
        return service is None or getattr(message, "messaging_service_sid", None) == service

    async def find(self, to: str, body: str | None, since: datetime) -> Found | AttemptFailure:
        """Messages we sent to `to` with exactly `body` (any body when None) created at or
        after `since`, through the Messages list (To and From filters, newest first). Paging
        stops at the first page with nothing created since then. No DateSent filter: a message
        Twilio accepted but has not sent yet has no date_sent, and must be found too."""
        since = since.replace(microsecond=0)  # the list gives date_created to the second
        filters = self._sender_filter()
        page = await self._call(lambda: self._twilio().messages.page_async(
            to=to, page_size=FIND_PAGE_SIZE, **filters))
        found: list[tuple[datetime, str]] = []
        for _ in range(FIND_MAX_PAGES):
            if isinstance(page, AttemptFailure):
                return page
            dated = [(created, m) for m in page if (created := _created(m)) is not None]
            recent = [(created, m) for created, m in dated if created >= since]
            found += [(created, str(m.sid)) for created, m in recent
                      if (body is None or m.body == body) and self._is_ours(m)]
            if not recent or page.next_page_url is None:
                break
            current = page
            page = await self._call(current.next_page_async)
        found.reverse()  # the list is newest first (and dates have whole seconds only)
        return Found(tuple(sid for _, sid in found))

    async def fetch_status(self, sid: str) -> MessageStatus | AttemptFailure:
        """One message's status, as a missed status callback would have told it."""
        message = await self._call(lambda: self._twilio().messages(sid).fetch_async())
        if isinstance(message, AttemptFailure):
            return message
        status = getattr(message, "status", None)
        code = getattr(message, "error_code", None)
        if not isinstance(status, str):
            return AttemptFailure(FailureKind.PROVIDER_ERROR)
        return MessageStatus(status, code if isinstance(code, int) else None)

    async def _send_with_retries(self, kwargs: Mapping[str, str]) -> SendResult:
        """Create one message, retrying per policy; a typed outcome, never provider text."""
        what = self._what
        policy = self._settings.retry
        attempts = ambiguous = 0
        while True:
            attempts += 1
            result = await self._attempt_create(kwargs)
            if isinstance(result, str):
                log.info("%s sent sid=%s attempts=%d", what, result, attempts)
                return Sent(result, attempts, possible_duplicate=ambiguous > 0)
            if result.kind.ambiguous:
                ambiguous += 1
            decision = decide(policy, result, ambiguous_failures=ambiguous, rand=self._rand(),
                              failures=attempts)
            if isinstance(decision, GiveUp):
                log.warning(
                    "%s failed reason=%s code=%s attempts=%d",
                    what,
                    decision.reason,
                    result.error_code,
                    attempts,
                )
                return Failed(decision.reason, attempts, result.error_code, ambiguous > 0)
            if (
                decision.delay > self._settings.max_inline_wait
                or attempts >= self._settings.max_attempts_per_send
            ):
                log.info("%s deferred reason=%s after=%.1fs", what, result.kind, decision.delay)
                return RetryLater(decision.delay, result.kind, attempts, ambiguous > 0)
            await self._sleep(decision.delay)


class TwilioSmsGateway(TwilioMessagesClient):
    """SmsGateway on the official `twilio` SDK, with the project's retry policy."""

    _what = "sms"

    async def send(self, to: str, body: str, status_callback: str | None = None) -> SendResult:
        """Send one SMS, retrying per policy; see the module docstring for the outcomes."""
        if is_whatsapp_address(to):
            log.warning("sms refused: whatsapp address on the sms path")
            return Failed(FailureKind.NOT_AN_SMS_ADDRESS, attempts=0)
        kwargs: dict[str, str] = {"to": to, "body": body}
        if self._settings.account.from_number:
            kwargs["from_"] = self._settings.account.from_number
        if self._settings.messaging_service_sid is not None:
            kwargs["messaging_service_sid"] = self._settings.messaging_service_sid
        if status_callback is not None:
            kwargs["status_callback"] = status_callback
        return await self._send_with_retries(kwargs)
