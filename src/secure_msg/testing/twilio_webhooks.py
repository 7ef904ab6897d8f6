"""Signed Twilio-style webhooks: status callbacks and simulated inbound SMS / calls.

Signatures are computed exactly as Twilio does (`RequestValidator`, HMAC-SHA1
of the URL plus the sorted form parameters, keyed with the auth token), over
the URL Twilio *believes* it called — pass `signed_url` to simulate a
reverse proxy whose public URL differs from the address actually posted to.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import NotRequired, TypedDict, Unpack

import aiohttp
from twilio.request_validator import RequestValidator

SIGNATURE_HEADER = "X-Twilio-Signature"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
API_VERSION = "2010-04-01"


class SignatureMode(StrEnum):
    VALID = "valid"
    FORGED = "forged"  # well-formed, computed with the wrong key
    MISSING = "missing"  # no X-Twilio-Signature header


@dataclass(frozen=True)
class WebhookReply:
    """What the webhook receiver answered."""

    status: int
    body: str
    content_type: str


class Delivery(TypedDict, total=False):
    """How a simulated webhook is posted; the keyword arguments of `post_webhook` it passes on."""

    signed_url: str | None
    mode: SignatureMode
    session: aiohttp.ClientSession | None


class InboundSms(TypedDict):
    """The keyword arguments of `send_inbound_sms` that describe the message itself."""

    auth_token: str
    account_sid: str
    from_: str
    to: str
    body: str
    message_sid: NotRequired[str | None]


def sign(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The X-Twilio-Signature Twilio would send for `params` posted to `url`."""
    return str(RequestValidator(auth_token).compute_signature(url, dict(params)))


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


def resplit(params: Mapping[str, str], absorbed: str) -> dict[str, str]:
    """`params` with field `absorbed` folded into the value of the field sorted just before it.

    Twilio signs url + key1value1key2value2… in key order with no separators, so the result
    carries the same signature: what a replay of a captured webhook can do to its fields.
    """
    keys = sorted(params)
    before = keys[keys.index(absorbed) - 1]
    out = {k: v for k, v in params.items() if k != absorbed}
    out[before] += absorbed + params[absorbed]
    return out


def inbound_sms_params(
    *, account_sid: str, from_: str, to: str, body: str, message_sid: str | None = None
) -> dict[str, str]:
    """The form fields of Twilio's incoming-message webhook."""
    sid = message_sid or new_sid("SM")
    return {
        "ToCountry": "FI",
        "ToState": "",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": "FI",
        "To": to,
        "ToZip": "",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": from_,
        "ApiVersion": API_VERSION,
    }


def voice_params(
    *,
    account_sid: str,
    from_: str,
    to: str,
    call_sid: str | None = None,
    digits: str | None = None,
) -> dict[str, str]:
    """The form fields of Twilio's incoming-call webhook (with `Digits` for a Gather action)."""
    params = {
        "AccountSid": account_sid,
        "ApiVersion": API_VERSION,
        "CallSid": call_sid or new_sid("CA"),
        "CallStatus": "in-progress" if digits is not None else "ringing",
        "Called": to,
        "Caller": from_,
        "Direction": "inbound",
        "From": from_,
        "To": to,
    }
    if digits is not None:
        params["Digits"] = digits
        params["FinishedOnKey"] = ""
    return params


def signature_headers(
    auth_token: str,
    signed_url: str,
    params: Mapping[str, str],
    mode: SignatureMode = SignatureMode.VALID,
) -> dict[str, str]:
    """Headers Twilio would send with a webhook (signature per `mode`)."""
    headers = {IDEMPOTENCY_HEADER: str(uuid.uuid4()), "User-Agent": "TwilioProxy/1.1"}
    if mode is SignatureMode.VALID:
        headers[SIGNATURE_HEADER] = sign(auth_token, signed_url, params)
    elif mode is SignatureMode.FORGED:
        headers[SIGNATURE_HEADER] = sign(auth_token + "-forged", signed_url, params)
    return headers


async def post_webhook(
    url: str,
    params: Mapping[str, str],
    *,
    auth_token: str,
    signed_url: str | None = None,
    mode: SignatureMode = SignatureMode.VALID,
    session: aiohttp.ClientSession | None = None,
    timeout_seconds: float = 10.0,
    signed_params: Mapping[str, str] | None = None,
) -> WebhookReply:
    """POST form `params` to `url` like Twilio, signed over `signed_url` (default `url`) and
    `signed_params` (default `params`; others replay a captured signature)."""
    headers = signature_headers(auth_token, signed_url or url, signed_params or params, mode)
    own = session is None
    client = session or aiohttp.ClientSession()
    try:
        async with client.post(
            url,
            data=dict(params),
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout_seconds),
        ) as response:
            return WebhookReply(response.status, await response.text(), response.content_type)
    finally:
        if own:
            await client.close()


async def send_inbound_sms(
    url: str,
    *,
    auth_token: str,
    account_sid: str,
    from_: str,
    to: str,
    body: str,
    message_sid: str | None = None,
    **delivery: Unpack[Delivery],
) -> WebhookReply:
    """Simulate Twilio delivering an incoming SMS to the webhook at `url`."""
    params = inbound_sms_params(
        account_sid=account_sid, from_=from_, to=to, body=body, message_sid=message_sid
    )
    return await post_webhook(url, params, auth_token=auth_token, **delivery)


async def send_forged_inbound_sms(
    url: str, *, session: aiohttp.ClientSession | None = None, **sms: Unpack[InboundSms]
) -> WebhookReply:
    """Like `send_inbound_sms`, but with a signature made with the wrong key."""
    return await send_inbound_sms(url, **sms, mode=SignatureMode.FORGED, session=session)


async def send_voice_webhook(
    url: str,
    *,
    auth_token: str,
    account_sid: str,
    from_: str,
    to: str,
    call_sid: str | None = None,
    digits: str | None = None,
    **delivery: Unpack[Delivery],
) -> WebhookReply:
    """Simulate Twilio's incoming-call webhook, or a Gather result when `digits` is given."""
    params = voice_params(
        account_sid=account_sid, from_=from_, to=to, call_sid=call_sid, digits=digits
    )
    return await post_webhook(url, params, auth_token=auth_token, **delivery)
