"""Bearer-token authentication for handlers. Tokens come only in the Authorization header
(never in a query string, where proxies and logs would keep them)."""

from __future__ import annotations

import re

from aiohttp import web

from secure_msg.model.accounts import Session
from secure_msg.services import account_service
from secure_msg.services.account_service import SessionCheck
from secure_msg.web.services import services

# RFC 6750's b64token. Our tokens are base64url; anything outside this set (a latin-1 byte, other
# non-ASCII text) can be no session of ours, and is refused as no token before it is hashed.
_TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*")
MAX_TOKEN_CHARS = 512


def well_formed_token(token: object) -> str | None:
    """`token` if it has the shape of a bearer token, else None (which authenticates as none)."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        return None
    return token if _TOKEN.fullmatch(token) else None


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return well_formed_token(token.strip())


async def require_session(request: web.Request) -> Session:
    return await account_service.authenticate(services(request).accounts, bearer_token(request))


def session_check(request: web.Request) -> SessionCheck:
    """The same check as `require_session`, to run inside the handler's own read transaction.
    A missing token fails here, before any database work."""
    return account_service.session_check(services(request).accounts, bearer_token(request))
