"""Twilio webhooks: delivery status, inbound SMS, inbound calls and the key-press step.

Each checks X-Twilio-Signature over the configured public base URL (not request.url, which is
the proxy's internal address) before reading anything else; a bad or missing one is 403 and
changes nothing (DESIGN §1.4). Only a body Twilio could have sent is parsed for that check: a
url-encoded UTF-8 form (415 or 400 otherwise).

The signature covers url + key1value1key2value2… with no separators, so text can be moved
between adjacent fields without breaking it: "NumMedia0" appended to MessageSid makes a new,
still-signed sid that would defeat the dedupe. So every SID must have Twilio's exact shape,
the message SIDs must agree and AccountSid must be ours; anything else is 400, nothing changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from aiohttp import web

from secure_msg.channels.inbound import SIGNATURE_HEADER, is_valid_twilio_signature
from secure_msg.errors import (
    BadRequest,
    UnsupportedMediaType,
    ValidationFailed,
    WebhookSignatureInvalid,
)
from secure_msg.services import inbound_service, notice_service
from secure_msg.web.json_io import read_query
from secure_msg.web.openapi import add_route
from secure_msg.web.request_types import GatherQuery
from secure_msg.web.services import STATUS_PATH, services

TWIML = "application/xml"
SMS_PATH = "/webhooks/twilio/sms"
VOICE_PATH = "/webhooks/twilio/voice"
GATHER_PATH = "/webhooks/twilio/voice/gather"

MESSAGE_SIDS = ("MessageSid", "SmsSid", "SmsMessageSid")
_MESSAGE_SID = re.compile(r"(SM|MM)[0-9a-f]{32}")
SID_SHAPES: Mapping[str, re.Pattern[str]] = {
    "AccountSid": re.compile(r"AC[0-9a-f]{32}"), "CallSid": re.compile(r"CA[0-9a-f]{32}"),
    **dict.fromkeys(MESSAGE_SIDS, _MESSAGE_SID),
}


def check_sids(form: Mapping[str, str], account_sid: str, required: tuple[str, ...]) -> None:
    """Raise BadRequest unless `required` SIDs are present, every SID present has its exact
    shape, AccountSid is `account_sid` and the message SIDs present are one and the same."""
    for name in ("AccountSid", *required):
        if name not in form:
            raise BadRequest(f"{name}: required", errors=[{"field": name}])
    for name, shape in SID_SHAPES.items():
        if name in form and shape.fullmatch(form[name]) is None:
            raise BadRequest(f"{name}: not a Twilio SID", errors=[{"field": name}])
    if form["AccountSid"] != account_sid:
        raise BadRequest("AccountSid: not this account", errors=[{"field": "AccountSid"}])
    if len({form[name] for name in MESSAGE_SIDS if name in form}) > 1:
        raise BadRequest("MessageSid: differs from SmsSid", errors=[{"field": "MessageSid"}])


FORM = "application/x-www-form-urlencoded"


async def _form(request: web.Request) -> dict[str, str]:
    """Twilio posts url-encoded UTF-8 only; anything else (multipart, another charset) is 415
    before aiohttp parses it, and bytes that are not UTF-8 are 400: never a 500."""
    if request.content_type != FORM or (request.charset or "utf-8").lower() != "utf-8":
        raise UnsupportedMediaType(f"Twilio posts {FORM} in UTF-8.")
    try:
        return {k: str(v) for k, v in (await request.post()).items()}
    except UnicodeDecodeError:
        raise BadRequest("The form is not UTF-8.") from None


async def _signed_form(request: web.Request, *required: str) -> dict[str, str]:
    form = await _form(request)
    s = services(request)
    cfg = s.config
    ok = is_valid_twilio_signature(
        auth_token=s.twilio_auth_token,
        public_base_url=cfg.server.public_base_url,
        path_qs=request.path_qs, params=form, signature=request.headers.get(SIGNATURE_HEADER),
    )
    if not ok:
        raise WebhookSignatureInvalid()
    check_sids(form, cfg.twilio.account_sid, required)
    return form


def _field(form: dict[str, str], name: str, max_len: int = 64) -> str:
    value = form.get(name, "")
    if not value or len(value) > max_len:
        raise ValidationFailed(f"{name}: required", errors=[{"field": name}])
    return value


def _twiml(text: str) -> web.Response:
    return web.Response(text=text, content_type=TWIML)


async def status(request: web.Request) -> web.Response:
    form = await _signed_form(request, "MessageSid")
    code = form.get("ErrorCode", "")
    await notice_service.status_callback(
        services(request).notices, form["MessageSid"], _field(form, "MessageStatus"),
        int(code) if code.isdigit() else None)
    return web.Response(status=204)


async def sms(request: web.Request) -> web.Response:
    form = await _signed_form(request, "MessageSid")
    s = services(request)
    reply = await inbound_service.inbound_sms(
        s.appointments, s.inbound_limits, s.replies,
        form["MessageSid"], _field(form, "From"), form.get("Body", "")[:1600])
    return _twiml(reply)


async def voice(request: web.Request) -> web.Response:
    form = await _signed_form(request, "CallSid")
    s = services(request)
    base = s.config.server.public_base_url
    reply = await inbound_service.voice_call(
        s.appointments, s.inbound_limits, s.replies, _field(form, "From"), base + GATHER_PATH)
    return _twiml(reply)


async def gather(request: web.Request) -> web.Response:
    form = await _signed_form(request, "CallSid")
    s = services(request)
    reply = await inbound_service.voice_gather(
        s.appointments, s.inbound_limits, s.replies,
        form["CallSid"], _field(form, "From"), form.get("Digits", ""),
        read_query(request, GatherQuery).a[:32])
    return _twiml(reply)


def setup_routes(app: web.Application) -> None:
    t = ["webhooks"]
    form = "Twilio's form fields, signed with X-Twilio-Signature over the public URL."
    twiml = {"type": "string", "contentMediaType": TWIML}
    add_route(app, "POST", STATUS_PATH, status, tags=t, status=204, description=form,
              summary="Twilio delivery status callback", form=True, errors=(403, 422))
    add_route(app, "POST", SMS_PATH, sms, tags=t, response_type=TWIML, description=form,
              summary="Inbound SMS: PERU/AVBOKA <code> cancels; STOP etc. recorded as consent",
              form=True, response=twiml, errors=(403, 422))
    add_route(app, "POST", VOICE_PATH, voice, tags=t, response_type=TWIML, description=form,
              summary="Inbound call: the next appointment read out, key 1 cancels",
              form=True, response=twiml, errors=(403, 422))
    add_route(app, "POST", GATHER_PATH, gather, tags=t, response_type=TWIML, description=form,
              summary="The key press of an inbound call", form=True, query=GatherQuery,
              response=twiml, errors=(403, 422))
