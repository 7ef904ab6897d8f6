"""Twilio webhooks: delivery status, inbound SMS, inbound calls and the key-press step.

Each checks X-Twilio-Signature over the configured public base URL (not request.url, which is
the proxy's internal address) before reading anything else; a bad or missing one is 403 and
changes nothing (DESIGN §1.4).
"""

from __future__ import annotations

from aiohttp import web

from secure_msg.channels.inbound import SIGNATURE_HEADER, is_valid_twilio_signature
from secure_msg.domain import inbound_service, notice_service
from secure_msg.errors import ValidationFailed, WebhookSignatureInvalid
from secure_msg.web import context, notices_runtime
from secure_msg.web.notices_runtime import STATUS_PATH, runtime
from secure_msg.web.openapi import add_route

TWIML = "application/xml"
SMS_PATH = "/webhooks/twilio/sms"
VOICE_PATH = "/webhooks/twilio/voice"
GATHER_PATH = "/webhooks/twilio/voice/gather"


async def _signed_form(request: web.Request) -> dict[str, str]:
    form = {k: str(v) for k, v in (await request.post()).items()}
    ok = is_valid_twilio_signature(
        auth_token=runtime(request).twilio_auth_token,
        public_base_url=context.config(request).server.public_base_url,
        path_qs=request.path_qs, params=form, signature=request.headers.get(SIGNATURE_HEADER),
    )
    if not ok:
        raise WebhookSignatureInvalid()
    return form


def _field(form: dict[str, str], name: str, max_len: int = 64) -> str:
    value = form.get(name, "")
    if not value or len(value) > max_len:
        raise ValidationFailed(f"{name}: required", errors=[{"field": name}])
    return value


def _twiml(text: str) -> web.Response:
    return web.Response(text=text, content_type=TWIML)


async def status(request: web.Request) -> web.Response:
    form = await _signed_form(request)
    code = form.get("ErrorCode", "")
    await notice_service.status_callback(
        runtime(request).notices, _field(form, "MessageSid"), _field(form, "MessageStatus"),
        int(code) if code.isdigit() else None)
    return web.Response(status=204)


async def sms(request: web.Request) -> web.Response:
    form = await _signed_form(request)
    reply = await inbound_service.inbound_sms(
        runtime(request).appointments, _field(form, "MessageSid"), _field(form, "From"),
        form.get("Body", "")[:1600])
    return _twiml(reply)


async def voice(request: web.Request) -> web.Response:
    form = await _signed_form(request)
    base = context.config(request).server.public_base_url
    reply = await inbound_service.voice_call(
        runtime(request).appointments, _field(form, "From"), base + GATHER_PATH)
    return _twiml(reply)


async def gather(request: web.Request) -> web.Response:
    form = await _signed_form(request)
    reply = await inbound_service.voice_gather(
        runtime(request).appointments, _field(form, "CallSid"), _field(form, "From"),
        form.get("Digits", ""), request.query.get("a", "")[:32])
    return _twiml(reply)


def setup_routes(app: web.Application) -> None:
    notices_runtime.install(app)
    t = ["webhooks"]
    form = "Twilio's form fields, signed with X-Twilio-Signature over the public URL."
    add_route(app, "POST", STATUS_PATH, status, tags=t, status=204, description=form,
              summary="Twilio delivery status callback", errors=(403, 422))
    add_route(app, "POST", SMS_PATH, sms, tags=t, response_type=TWIML, description=form,
              summary="Inbound SMS: PERU/AVBOKA <code> cancels; STOP etc. recorded as consent",
              response={"type": "string"}, errors=(403, 422))
    add_route(app, "POST", VOICE_PATH, voice, tags=t, response_type=TWIML, description=form,
              summary="Inbound call: the next appointment read out, key 1 cancels",
              response={"type": "string"}, errors=(403, 422))
    add_route(app, "POST", GATHER_PATH, gather, tags=t, response_type=TWIML, description=form,
              summary="The key press of an inbound call", response={"type": "string"},
              errors=(403, 422))
