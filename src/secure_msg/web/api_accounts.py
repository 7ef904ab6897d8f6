"""Enrollment, login, logout, password change and recovery over HTTP (thin handlers)."""

from __future__ import annotations

from aiohttp import web

from secure_msg.clock import ms_to_iso
from secure_msg.crypto.safety import fingerprint
from secure_msg.model.accounts import Account
from secure_msg.model.notice_templates import Language
from secure_msg.services import account_service as svc
from secure_msg.services.account_service import EnrollRequest, LoginResult, PasswordMaterial
from secure_msg.web import client_address
from secure_msg.web import response_types as out
from secure_msg.web.auth import bearer_token, require_session
from secure_msg.web.json_io import b64, read_body
from secure_msg.web.openapi import add_route
from secure_msg.web.request_types import (
    EnrollBody,
    LoginBody,
    PasswordChangeBody,
    PasswordFields,
    PreloginBody,
    RecoveryBundleBody,
    RecoveryResetBody,
)
from secure_msg.web.services import services


def account_json(account: Account) -> out.Account:
    return {
        "id": account.id.hex(), "role": account.role.value, "login": account.login,
        "name": account.name, "language": account.language,
        "key_statement": b64(account.key_statement),
        "fingerprint": fingerprint(account.identity_key),
    }


def login_json(result: LoginResult) -> out.LoginResult:
    return {
        "token": result.token, "expires_at": ms_to_iso(result.session.expires_at_ms),
        "account": account_json(result.account), "password_bundle": b64(result.password_bundle),
    }


def password_material(body: PasswordFields) -> PasswordMaterial:
    return PasswordMaterial(body.kdf_salt, body.kdf_iterations, body.auth_key,
                            body.password_bundle)


async def enrollment_info(request: web.Request) -> web.Response:
    info = await svc.enrollment_info(services(request).accounts, request.match_info["token"])
    answer: out.EnrollmentInfo = {
        "role": info.role.value, "account_id": info.account_id.hex(), "name": info.name,
        "booklet_id": info.booklet_id.hex() if info.booklet_id else None,
        "expires_at": ms_to_iso(info.expires_at_ms),
    }
    return web.json_response(answer)


async def enroll(request: web.Request) -> web.Response:
    body = await read_body(request, EnrollBody)
    req = EnrollRequest(
        login=body.login, key_statement=body.key_statement, password=password_material(body),
        recovery_auth_key=body.recovery_auth_key, recovery_bundle=body.recovery_bundle,
        language=(body.language or Language.FI).value,
    )
    result = await svc.enroll(services(request).accounts, request.match_info["token"], req)
    return web.json_response(login_json(result), status=201)


async def accept_invitation(request: web.Request) -> web.Response:
    session = await require_session(request)
    booklet_id = await svc.accept_invitation(
        services(request).accounts, session, request.match_info["token"]
    )
    answer: out.Joined = {"booklet_id": booklet_id.hex()}
    return web.json_response(answer)


async def prelogin(request: web.Request) -> web.Response:
    body = await read_body(request, PreloginBody)
    salt, iterations = await svc.prelogin(services(request).accounts, body.login)
    answer: out.KdfParams = {"kdf": "pbkdf2-sha256", "iterations": iterations, "salt": b64(salt)}
    return web.json_response(answer)


async def login(request: web.Request) -> web.Response:
    body = await read_body(request, LoginBody)
    result = await svc.login(services(request).accounts, body.login, body.auth_key,
                             client=client_address.of_request(request))
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
    body = await read_body(request, PasswordChangeBody)
    token = bearer_token(request)
    assert token is not None
    await svc.change_password(
        services(request).accounts, session, token, body.current_auth_key,
        password_material(body), client=client_address.of_request(request),
    )
    return web.Response(status=204)


async def recovery_bundle(request: web.Request) -> web.Response:
    body = await read_body(request, RecoveryBundleBody)
    found = await svc.recovery_bundle(
        services(request).accounts, body.login, body.recovery_auth_key,
        client=client_address.of_request(request),
    )
    answer: out.RecoveryBundle = {"recovery_bundle": b64(found.sealed),
                                  "key_statement": b64(found.key_statement)}
    return web.json_response(answer)


async def recover(request: web.Request) -> web.Response:
    body = await read_body(request, RecoveryResetBody)
    result = await svc.recover(
        services(request).accounts, body.login, body.recovery_auth_key, password_material(body),
        client=client_address.of_request(request),
    )
    return web.json_response(login_json(result))


def setup_routes(app: web.Application) -> None:
    tags = ["accounts"]
    add_route(app, "GET", "/api/enroll/{token}", enrollment_info, tags=tags,
              summary="What an invitation link is for (role, reserved account id)",
              response=out.EnrollmentInfo, errors=(404, 410))
    add_route(app, "POST", "/api/enroll/{token}", enroll, tags=tags, status=201,
              summary="Enroll with an invitation: public keys, sealed bundles, auth key",
              request=EnrollBody, response=out.LoginResult, errors=(404, 409, 410, 503))
    add_route(app, "POST", "/api/invitations/{token}/accept", accept_invitation, tags=tags,
              auth=True, summary="Join another booklet with an invitation, as an existing "
              "family account", response=out.Joined, errors=(401, 403, 404, 409, 410, 422))
    add_route(app, "POST", "/api/prelogin", prelogin, tags=tags,
              summary="KDF parameters for a login (same shape for unknown logins)",
              request=PreloginBody, response=out.KdfParams)
    add_route(app, "POST", "/api/login", login, tags=tags, summary="Log in with the auth key",
              request=LoginBody, response=out.LoginResult, errors=(401, 429, 503))
    add_route(app, "POST", "/api/logout", logout, tags=tags, status=204, auth=True,
              summary="End this session")
    add_route(app, "GET", "/api/me", me, tags=tags, auth=True, summary="My account",
              response=out.Account)
    add_route(app, "POST", "/api/me/password", change_password, tags=tags, status=204,
              auth=True, summary="Change password: new auth key and re-sealed bundle",
              request=PasswordChangeBody, errors=(401, 429, 503))
    add_route(app, "POST", "/api/recovery/bundle", recovery_bundle, tags=tags,
              summary="Prove the recovery key; get the bundle sealed under it",
              request=RecoveryBundleBody, response=out.RecoveryBundle, errors=(401, 429, 503))
    add_route(app, "POST", "/api/recovery/reset", recover, tags=tags,
              summary="Set a new password with the recovery key",
              request=RecoveryResetBody, response=out.LoginResult, errors=(401, 429, 503))
