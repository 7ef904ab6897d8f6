"""Enrollment, login, logout, password change and recovery over HTTP (thin handlers)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from secure_msg.clock import ms_to_iso
from secure_msg.crypto.keys import PBKDF2_ITERATIONS
from secure_msg.crypto.safety import fingerprint
from secure_msg.model.accounts import Account
from secure_msg.services import account_service as svc
from secure_msg.services.account_service import EnrollRequest, LoginResult, PasswordMaterial
from secure_msg.web import client_address
from secure_msg.web.auth import bearer_token, require_session
from secure_msg.web.json_io import b64, get_bytes, get_int, get_str, json_body, req_str
from secure_msg.web.openapi import add_route
from secure_msg.web.services import services

B64 = {"type": "string", "description": "unpadded base64url"}
HEX_ID = {"type": "string", "pattern": "^[0-9a-f]{32}$"}
PASSWORD_FIELDS: dict[str, Any] = {
    "kdf_salt": B64, "kdf_iterations": {"type": "integer", "minimum": PBKDF2_ITERATIONS},
    "auth_key": B64, "password_bundle": B64,
}
ACCOUNT = {"type": "object", "properties": {
    "id": HEX_ID, "role": {"type": "string"}, "login": {"type": "string"},
    "name": {"type": ["string", "null"]}, "language": {"type": "string"},
    "key_statement": B64, "fingerprint": {"type": "string"}}}
LOGIN_RESULT = {"type": "object", "required": ["token", "account", "password_bundle"],
                "properties": {"token": {"type": "string"}, "expires_at": {"type": "string"},
                               "account": ACCOUNT, "password_bundle": B64}}


def account_json(account: Account) -> dict[str, Any]:
    return {
        "id": account.id.hex(), "role": account.role.value, "login": account.login,
        "name": account.name, "language": account.language,
        "key_statement": b64(account.key_statement),
        "fingerprint": fingerprint(account.identity_key),
    }


def login_json(result: LoginResult) -> dict[str, Any]:
    return {
        "token": result.token, "expires_at": ms_to_iso(result.session.expires_at_ms),
        "account": account_json(result.account), "password_bundle": b64(result.password_bundle),
    }


def password_material(body: dict[str, Any]) -> PasswordMaterial:
    return PasswordMaterial(
        get_bytes(body, "kdf_salt", max_len=64), get_int(body, "kdf_iterations", maximum=10**8),
        get_bytes(body, "auth_key", length=32), get_bytes(body, "password_bundle", max_len=1024),
    )


async def enrollment_info(request: web.Request) -> web.Response:
    info = await svc.enrollment_info(services(request).accounts, request.match_info["token"])
    return web.json_response({
        "role": info.role.value, "account_id": info.account_id.hex(), "name": info.name,
        "booklet_id": info.booklet_id.hex() if info.booklet_id else None,
        "expires_at": ms_to_iso(info.expires_at_ms),
    })


async def enroll(request: web.Request) -> web.Response:
    body = await json_body(request)
    req = EnrollRequest(
        login=req_str(body, "login", max_len=64),
        key_statement=get_bytes(body, "key_statement", max_len=1024),
        password=password_material(body),
        recovery_auth_key=get_bytes(body, "recovery_auth_key", length=32),
        recovery_bundle=get_bytes(body, "recovery_bundle", max_len=1024),
        language=get_str(body, "language", max_len=2, optional=True) or "fi",
    )
    result = await svc.enroll(services(request).accounts, request.match_info["token"], req)
    return web.json_response(login_json(result), status=201)


async def accept_invitation(request: web.Request) -> web.Response:
    session = await require_session(request)
    booklet_id = await svc.accept_invitation(
        services(request).accounts, session, request.match_info["token"]
    )
    return web.json_response({"booklet_id": booklet_id.hex()})


async def prelogin(request: web.Request) -> web.Response:
    body = await json_body(request)
    salt, iterations = await svc.prelogin(services(request).accounts, req_str(body, "login"))
    return web.json_response(
        {"kdf": "pbkdf2-sha256", "iterations": iterations, "salt": b64(salt)}
    )


async def login(request: web.Request) -> web.Response:
    body = await json_body(request)
    result = await svc.login(
        services(request).accounts, req_str(body, "login"), get_bytes(body, "auth_key", length=32),
        client=client_address.of_request(request),
    )
    return web.json_response(login_json(result))


async def logout(request: web.Request) -> web.Response:
    session = await require_session(request)
    token = bearer_token(request)
    assert token is not None
    await svc.logout(services(request).accounts, session, token)
    return web.Response(status=204)


async def me(request: web.Request) -> web.Response:
    session = await require_session(request)
    # No sealed bundle here: a stolen bearer token alone must not yield material for offline
    # password guessing (docs/threat-model.md); the bundle comes only with a login.
    account = await svc.get_account(services(request).accounts, session.account_id)
    return web.json_response(account_json(account))


async def change_password(request: web.Request) -> web.Response:
    session = await require_session(request)
    body = await json_body(request)
    token = bearer_token(request)
    assert token is not None
    await svc.change_password(
        services(request).accounts, session, token,
        get_bytes(body, "current_auth_key", length=32), password_material(body),
        client=client_address.of_request(request),
    )
    return web.Response(status=204)


async def recovery_bundle(request: web.Request) -> web.Response:
    body = await json_body(request)
    found = await svc.recovery_bundle(
        services(request).accounts, req_str(body, "login"),
        get_bytes(body, "recovery_auth_key", length=32), client=client_address.of_request(request),
    )
    return web.json_response(
        {"recovery_bundle": b64(found.sealed), "key_statement": b64(found.key_statement)}
    )


async def recover(request: web.Request) -> web.Response:
    body = await json_body(request)
    result = await svc.recover(
        services(request).accounts, req_str(body, "login"),
        get_bytes(body, "recovery_auth_key", length=32), password_material(body),
        client=client_address.of_request(request),
    )
    return web.json_response(login_json(result))


def setup_routes(app: web.Application) -> None:
    tags = ["accounts"]
    enroll_body = {"type": "object", "required": ["login", "key_statement", "recovery_auth_key",
                   "recovery_bundle", *PASSWORD_FIELDS],
                   "properties": {"login": {"type": "string"}, "key_statement": B64,
                                  "recovery_auth_key": B64, "recovery_bundle": B64,
                                  "language": {"enum": ["fi", "sv", "en"]}, **PASSWORD_FIELDS}}
    add_route(app, "GET", "/api/enroll/{token}", enrollment_info, tags=tags,
              summary="What an invitation link is for (role, reserved account id)",
              response={"type": "object"}, errors=(404, 410))
    add_route(app, "POST", "/api/enroll/{token}", enroll, tags=tags, status=201,
              summary="Enroll with an invitation: public keys, sealed bundles, auth key",
              request=enroll_body, response=LOGIN_RESULT,
              errors=(400, 404, 409, 410, 415, 422, 503))
    add_route(app, "POST", "/api/invitations/{token}/accept", accept_invitation, tags=tags,
              auth=True, summary="Join another booklet with an invitation, as an existing "
              "family account", response={"type": "object"}, errors=(401, 403, 404, 409, 410))
    login_body = {"type": "object", "required": ["login"],
                  "properties": {"login": {"type": "string"}}}
    add_route(app, "POST", "/api/prelogin", prelogin, tags=tags,
              summary="KDF parameters for a login (same shape for unknown logins)",
              request=login_body, response={"type": "object"}, errors=(400, 415, 422))
    add_route(app, "POST", "/api/login", login, tags=tags, summary="Log in with the auth key",
              request={"type": "object", "required": ["login", "auth_key"],
                       "properties": {"login": {"type": "string"}, "auth_key": B64}},
              response=LOGIN_RESULT, errors=(400, 401, 415, 422, 429, 503))
    add_route(app, "POST", "/api/logout", logout, tags=tags, status=204, auth=True,
              summary="End this session", errors=(401,))
    add_route(app, "GET", "/api/me", me, tags=tags, auth=True, summary="My account",
              response=ACCOUNT, errors=(401,))
    add_route(app, "POST", "/api/me/password", change_password, tags=tags, status=204,
              auth=True, summary="Change password: new auth key and re-sealed bundle",
              request={"type": "object", "properties": {"current_auth_key": B64,
                                                        **PASSWORD_FIELDS}},
              errors=(400, 401, 415, 422, 429, 503))
    add_route(app, "POST", "/api/recovery/bundle", recovery_bundle, tags=tags,
              summary="Prove the recovery key; get the bundle sealed under it",
              request={"type": "object", "properties": {"login": {"type": "string"},
                                                        "recovery_auth_key": B64}},
              response={"type": "object", "required": ["recovery_bundle", "key_statement"],
                        "properties": {"recovery_bundle": B64, "key_statement": B64}},
              errors=(400, 401, 415, 422, 429, 503))
    add_route(app, "POST", "/api/recovery/reset", recover, tags=tags,
              summary="Set a new password with the recovery key",
              request={"type": "object", "properties": {"login": {"type": "string"},
                                                        "recovery_auth_key": B64,
                                                        **PASSWORD_FIELDS}},
              response=LOGIN_RESULT, errors=(400, 401, 415, 422, 429, 503))
