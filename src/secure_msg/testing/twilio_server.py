"""A local Twilio-compatible server: Messages API, signed status callbacks, faults.

Good enough for the official `twilio` SDK pointed at it (see
`secure_msg.channels.sms.BaseUrlTwilioHttpClient`). Dev and tests only: the
control API under `/_dev/` has no authentication, and it shows the phone
numbers and bodies it received.

    python -m secure_msg.testing.twilio_server --port 8099

Control API: `GET /_dev/messages`, `GET /_dev/attempts` (every create request
and what happened to it), `GET /_dev/reads` (every list and fetch request),
`GET /_dev/callbacks`, `GET|POST /_dev/faults` (see `twilio_faults`),
`POST /_dev/offline` and `/_dev/online` (stop and resume listening, dropping
open connections: Twilio unreachable), `POST /_dev/reset`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import os
import re
import signal
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from secure_msg.testing.twilio_faults import Fault, FaultKind
from secure_msg.testing.twilio_list import ListError, list_page
from secure_msg.testing.twilio_state import StoredMessage, TwilioDevState, now, start_delivery
from secure_msg.testing.twilio_webhooks import API_VERSION, new_sid

DEV_ACCOUNT_SID = "AC" + "0" * 32
DEV_AUTH_TOKEN = "dev-auth-token"  # noqa: S105 - the local server's default, not a secret
_E164 = re.compile(r"(whatsapp:)?\+[1-9][0-9]{6,14}")
_MAX_BODY = 1600
_CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")

STATE: web.AppKey[TwilioDevState] = web.AppKey("twilio_dev_state", TwilioDevState)


def _error(status: int, code: int, message: str, **headers: str) -> web.Response:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return web.json_response(body, status=status, headers=headers)


def _authorized(request: web.Request, state: TwilioDevState) -> bool:
    header = request.headers.get("Authorization", "")
    try:
        auth = aiohttp.BasicAuth.decode(header)
    except ValueError:
        return False
    return (
        hmac.compare_digest(auth.login, state.account_sid)
        and hmac.compare_digest(auth.password, state.auth_token)
        and request.match_info["account_sid"] == state.account_sid
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _basic_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(f"/{API_VERSION}/") and not _authorized(request, request.app[STATE]):
        return _error(
            401, 20003, "Authenticate", **{"WWW-Authenticate": 'Basic realm="Twilio API"'}
        )
    return await handler(request)


# --- Messages API -----------------------------------------------------------


def _validate_create(form: Mapping[str, str]) -> web.Response | None:
    to = form.get("To", "")
    if not to:
        return _error(400, 21604, "A 'To' phone number is required.")
    if not form.get("From") and not form.get("MessagingServiceSid"):
        return _error(400, 21603, "A 'From' phone number is required.")
    if not form.get("Body") and not form.get("MediaUrl") and not form.get("ContentSid"):
        return _error(400, 21602, "Message body is required.")
    if _E164.fullmatch(to) is None:
        return _error(400, 21211, f"Invalid 'To' Phone Number: {to}")
    sender = form.get("From", "")
    if sender and to.startswith("whatsapp:") != sender.startswith("whatsapp:"):
        return _error(400, 21910, "Invalid From and To pair. From and To should be of the same "
                                  "channel")
    return _validate_content(form)


def _validate_content(form: Mapping[str, str]) -> web.Response | None:
    """ContentSid / ContentVariables as the 2010-04-01 spec describes them."""
    sid, variables = form.get("ContentSid"), form.get("ContentVariables")
    if sid is not None and _CONTENT_SID.fullmatch(sid) is None:
        return _error(400, 21655, "The ContentSid is Invalid.")
    if variables is not None:
        if sid is None:
            return _error(400, 21656, "ContentVariables needs a ContentSid.")
        try:
            parsed = json.loads(variables)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()):
            return _error(400, 21656, "The ContentVariables Parameter is invalid.")
    if len(form.get("Body", "")) > _MAX_BODY:
        return _error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
    return None


def _store(state: TwilioDevState, form: Mapping[str, str]) -> StoredMessage:
    message = StoredMessage(
        sid=new_sid("SM"),
        account_sid=state.account_sid,
        to=form["To"],
        from_=form.get("From") or None,
        messaging_service_sid=form.get("MessagingServiceSid") or None,
        body=form.get("Body", ""),
        status_callback=form.get("StatusCallback") or None,
        date_created=now(),
        content_sid=form.get("ContentSid") or None,
        content_variables=form.get("ContentVariables") or None,
    )
    if message.messaging_service_sid and not message.from_:
        message.status = "accepted"
    state.messages[message.sid] = message
    return message


async def _reset_connection(request: web.Request) -> web.Response:
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:  # SO_LINGER 0: close() sends RST instead of FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return web.Response(status=500)  # never reaches the client


async def _apply_fault(
    request: web.Request, state: TwilioDevState, fault: Fault, form: Mapping[str, str]
) -> web.Response:
    kind = fault.kind
    if kind is FaultKind.RATE_LIMIT:
        return _error(429, 20429, "Too Many Requests", **{"Retry-After": str(fault.retry_after)})
    if kind is FaultKind.INVALID_NUMBER:
        return _error(400, 21211, f"Invalid 'To' Phone Number: {form.get('To', '')}")
    if kind is FaultKind.OPTED_OUT:
        return _error(400, 21610, "Attempt to send to unsubscribed recipient")
    message = _store(state, form) if fault.accepted else None
    if message is not None:
        start_delivery(state, message, None)
    if kind is FaultKind.RESET:
        return await _reset_connection(request)
    if kind is FaultKind.TIMEOUT:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.closing.wait(), fault.hang_seconds)
        if message is not None:
            return web.json_response(message.resource(), status=201)
    return _error(500, 20500, "Internal Server Error")


async def create_message(request: web.Request) -> web.Response:
    state = request.app[STATE]
    form = {k: str(v) for k, v in (await request.post()).items()}
    invalid = _validate_create(form)
    fault = state.faults.take(form.get("To", "")) if invalid is None else None
    state.attempts.append(
        {
            "to": form.get("To"),
            "body": form.get("Body"),
            "content_sid": form.get("ContentSid"),
            "content_variables": form.get("ContentVariables"),
            "fault": fault.kind.value if fault else None,
            "status": invalid.status if invalid else None,
            "at": now().isoformat(),
        }
    )
    if invalid is not None:
        return invalid
    if fault is not None and fault.kind not in (FaultKind.UNDELIVERED, FaultKind.FAILED):
        return await _apply_fault(request, state, fault, form)
    message = _store(state, form)
    start_delivery(state, message, fault.kind.value if fault else None)
    return web.json_response(message.resource(), status=201)


async def fetch_message(request: web.Request) -> web.Response:
    state = request.app[STATE]
    sid = request.match_info["sid"]
    state.reads.append({"kind": "fetch", "sid": sid, "at": now().isoformat()})
    message = state.messages.get(sid)
    if message is None:
        return _error(404, 20404, f"The requested resource {request.path} was not found")
    return web.json_response(message.resource())


async def list_messages(request: web.Request) -> web.Response:
    """The Messages list: To/From/DateSent filters and paging (`twilio_list`)."""
    state = request.app[STATE]
    query = dict(request.query)
    state.reads.append({"kind": "list", "query": query, "at": now().isoformat()})
    base = f"/{API_VERSION}/Accounts/{state.account_sid}/Messages.json"
    try:
        return web.json_response(list_page(list(state.messages.values()), query, base))
    except ListError as exc:
        return _error(400, 20001, str(exc))


# --- Status callbacks -------------------------------------------------------


# --- Control API ------------------------------------------------------------


async def dev_messages(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response({"messages": [
        {**m.resource(), "content_sid": m.content_sid, "content_variables": m.content_variables}
        for m in state.messages.values()]})


async def dev_attempts(request: web.Request) -> web.Response:
    return web.json_response({"attempts": request.app[STATE].attempts})


async def dev_reads(request: web.Request) -> web.Response:
    return web.json_response({"reads": request.app[STATE].reads})


async def dev_callbacks(request: web.Request) -> web.Response:
    return web.json_response({"callbacks": request.app[STATE].callbacks})


async def dev_get_faults(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].faults.to_json())


async def dev_post_faults(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        data = await request.json()
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        state.faults.apply_json(data)
    except ValueError as exc:  # includes JSONDecodeError
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(state.faults.to_json())


async def dev_reset(request: web.Request) -> web.Response:
    request.app[STATE].reset()
    return web.json_response({"reset": True})


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    state.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
    yield
    state.closing.set()
    for task in list(state.tasks):
        task.cancel()
    await asyncio.gather(*state.tasks, return_exceptions=True)
    await state.session.close()
    state.session = None


def create_app(state: TwilioDevState) -> web.Application:
    """The aiohttp application around `state`."""
    app = web.Application(middlewares=[_basic_auth])
    app[STATE] = state
    app[LISTENER] = Listener()
    base = f"/{API_VERSION}/Accounts/{{account_sid}}/Messages"
    app.router.add_post(f"{base}.json", create_message)
    app.router.add_get(f"{base}.json", list_messages)
    app.router.add_get(f"{base}/{{sid}}.json", fetch_message)
    app.router.add_get("/_dev/messages", dev_messages)
    app.router.add_get("/_dev/attempts", dev_attempts)
    app.router.add_get("/_dev/reads", dev_reads)
    app.router.add_get("/_dev/callbacks", dev_callbacks)
    app.router.add_get("/_dev/faults", dev_get_faults)
    app.router.add_post("/_dev/faults", dev_post_faults)
    app.router.add_post("/_dev/reset", dev_reset)
    app.router.add_post("/_dev/offline", dev_offline)
    app.cleanup_ctx.append(_lifecycle)
    return app


@dataclass
class Listener:
    """The listening socket, which an outage closes and reopens on the same port (set up by
    `serve_twilio`; the app holds it from its creation, as aiohttp wants)."""

    runner: web.AppRunner | None = None
    host: str = "127.0.0.1"
    port: int = 0
    site: web.TCPSite | None = None

    async def start(self) -> None:
        if self.site is None and self.runner is not None:
            site = web.TCPSite(self.runner, self.host, self.port)
            await site.start()
            self.site = site
            self.port = int(self.runner.addresses[-1][1]) if self.port == 0 else self.port

    async def stop(self) -> None:
        """Stop listening and drop every open connection: new requests are refused."""
        if self.site is not None:
            await self.site.stop()
            self.site = None
        server = self.runner.server if self.runner is not None else None
        for handler in server.connections if server is not None else []:
            handler.force_close()


LISTENER: web.AppKey[Listener] = web.AppKey("twilio_dev_listener", Listener)


async def _outage(listener: Listener, seconds: float) -> None:
    await asyncio.sleep(0.05)  # let the control request's answer go out first
    await listener.stop()
    await asyncio.sleep(seconds)
    await listener.start()


async def dev_offline(request: web.Request) -> web.Response:
    """`{"seconds": N}`: refuse every connection for N seconds (Twilio unreachable)."""
    try:
        data = await request.json()
        seconds = data.get("seconds") if isinstance(data, dict) else None
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
            raise ValueError("seconds must be a positive number")
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    state = request.app[STATE]
    task = asyncio.get_running_loop().create_task(_outage(request.app[LISTENER], seconds))
    state.tasks.add(task)
    task.add_done_callback(state.tasks.discard)
    return web.json_response({"offline_seconds": seconds}, status=202)


@dataclass
class RunningTwilioServer:
    """A started server; `url` is its base URL (give it to the SDK's HTTP client)."""

    runner: web.AppRunner
    state: TwilioDevState
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def go_offline(self) -> None:
        """Refuse connections (and drop open ones) until `go_online`: Twilio unreachable."""
        await self.runner.app[LISTENER].stop()

    async def go_online(self) -> None:
        await self.runner.app[LISTENER].start()

    async def close(self) -> None:
        self.state.closing.set()  # release hanging "timeout" handlers before shutdown waits
        await self.runner.cleanup()

    async def __aenter__(self) -> RunningTwilioServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def serve_twilio(
    host: str,
    port: int,
    *,
    account_sid: str,
    auth_token: str,
    callback_delay: float = 0.05,
) -> RunningTwilioServer:
    """Start the server on `host:port` (port 0 picks a free one) and return it running."""
    state = TwilioDevState(account_sid, auth_token, callback_delay=callback_delay)
    app = create_app(state)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    listener = app[LISTENER]
    listener.runner, listener.host, listener.port = runner, host, port
    try:
        await listener.start()
    except BaseException:
        await runner.cleanup()  # closes the callback session opened by setup()
        raise
    return RunningTwilioServer(runner, state, host, listener.port)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="secure-msg dev twilio", description="Local Twilio-compatible server for dev/tests."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument(
        "--account-sid", default=os.environ.get("TWILIO_ACCOUNT_SID", DEV_ACCOUNT_SID)
    )
    parser.add_argument(
        "--auth-token",
        default=os.environ.get("TWILIO_AUTH_TOKEN", DEV_AUTH_TOKEN),
        help="default: $TWILIO_AUTH_TOKEN or the dev token",
    )
    parser.add_argument("--callback-delay", type=float, default=0.5)
    return parser.parse_args(argv)


async def _run(args: argparse.Namespace) -> None:
    server = await serve_twilio(
        args.host,
        args.port,
        account_sid=args.account_sid,
        auth_token=args.auth_token,
        callback_delay=args.callback_delay,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(  # the token is deliberately not printed
        f"Twilio-compatible dev server on {server.url} (account {args.account_sid}); "
        f"control API at {server.url}/_dev/messages",
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await server.close()


def main(argv: list[str] | None = None) -> int:
    """Run the server until SIGINT/SIGTERM; returns the process exit code."""
    args = _parse_args(argv)
    try:
        asyncio.run(_run(args))
    except OSError as exc:  # e.g. the port is taken
        print(f"cannot start: {exc.strerror or exc}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
