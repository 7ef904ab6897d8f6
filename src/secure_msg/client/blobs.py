"""Encrypted attachments over HTTP: streamed upload and download of opaque blobs.

    blob = await upload(api, booklet_id, chunks, size)     # {"id", "size", "sha256"}
    size = await download(api, booklet_id, blob["id"], out.write, max_bytes)

The bytes are ciphertext made on this device (crypto/file_stream.py); the server stores them
as they come and never learns a name or a type. An upload sends its length first and waits for
`100 Continue`, so a refused one (too large, over the quota, not a member) costs no body.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Callable
from typing import Any

import aiohttp

from secure_msg.client.http import Api, ClientError, problem_error

BINARY = "application/octet-stream"
READ_CHUNK = 1 << 16


async def _raise_for(resp: aiohttp.ClientResponse) -> None:
    if resp.status < 400:
        return
    text = await resp.read()
    try:
        data: Any = json.loads(text)
    except ValueError:
        data = {}
    raise problem_error(resp.status, str(resp.reason), data)


async def upload(api: Api, booklet_id: str, chunks: AsyncIterable[bytes] | bytes,
                 size: int) -> dict[str, Any]:
    """Upload `size` bytes (an async stream of chunks, or bytes) into the booklet as a pending
    blob; an entry must list its id (`Client.post(..., blob_ids=...)`) for it to stay."""
    headers = {**api.auth_headers(), "Content-Type": BINARY, "Content-Length": str(size)}
    async with api.http.post(f"{api.base_url}/api/booklets/{booklet_id}/blobs", data=chunks,
                             headers=headers, expect100=True) as resp:
        await _raise_for(resp)
        answer: dict[str, Any] = await resp.json()
    if answer.get("size") != size:
        raise ClientError(502, "blob-size-mismatch", "The server stored another size")
    return answer


async def download(api: Api, booklet_id: str, blob_id: str, sink: Callable[[bytes], object],
                   max_bytes: int) -> int:
    """Hand the blob's bytes to `sink` as they come (a decryptor, a file); refuse more than
    `max_bytes` (a server cannot make the client fill its disk). Returns the byte count."""
    written = 0
    async with api.http.get(f"{api.base_url}/api/booklets/{booklet_id}/blobs/{blob_id}",
                            headers=api.auth_headers()) as resp:
        await _raise_for(resp)
        async for chunk in resp.content.iter_chunked(READ_CHUNK):
            written += len(chunk)
            if written > max_bytes:
                raise ClientError(502, "blob-too-large", "The server sent more than expected")
            sink(chunk)
    return written
