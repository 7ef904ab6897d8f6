"""JSON over HTTP to the secure-msg API; problem+json answers become ClientError."""

from __future__ import annotations

from typing import Any

import aiohttp

from secure_msg import base64url


class ClientError(Exception):
    """An error answer from the server (problem+json) or a protocol check failing locally."""

    def __init__(self, status: int, code: str, title: str, detail: str | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {detail or title}")
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.extra = extra or {}


b64e = base64url.encode
# Lenient, as the client has always read the server's answers; ValueError when it cannot.
b64d = base64url.decode_lenient


class Api:
    def __init__(self, base_url: str, session: aiohttp.ClientSession, token: str | None = None
                 ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = session
        self.token = token

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None,
                   params: dict[str, str] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self._http.request(
            method, self.base_url + path, json=body, params=params, headers=headers
        ) as resp:
            if resp.status == 204:
                return None
            data = await resp.json(content_type=None)
            if resp.status >= 400:
                raise problem_error(resp.status, str(resp.reason), data)
            return data

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    @property
    def http(self) -> aiohttp.ClientSession:
        return self._http


def problem_error(status: int, reason: str, data: Any) -> ClientError:
    """The ClientError of a problem+json answer (or of whatever else came with the status)."""
    data = data if isinstance(data, dict) else {}
    known = {"type", "title", "detail", "status", "instance"}
    return ClientError(
        status, str(data.get("type", "http-error")), str(data.get("title", reason)),
        data.get("detail"), {k: v for k, v in data.items() if k not in known},
    )
