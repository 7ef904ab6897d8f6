"""Bearer-token authentication for handlers. Tokens come only in the Authorization header
(never in a query string, where proxies and logs would keep them)."""

from __future__ import annotations

from aiohttp import web

from secure_msg.model.accounts import Session
from secure_msg.services import account_service
from secure_msg.services.account_service import SessionCheck
from secure_msg.web.services import services


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def require_session(request: web.Request) -> Session:
    return await account_service.authenticate(services(request).accounts, bearer_token(request))


def session_check(request: web.Request) -> SessionCheck:
    """The same check as `require_session`, to run inside the handler's own read transaction.
    A missing token fails here, before any database work."""
    return account_service.session_check(services(request).accounts, bearer_token(request))
