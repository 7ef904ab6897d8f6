"""Sharing a document with someone outside the booklet (docs/protocol.md §4.8), for the
reference client: create (the sharer), list and withdraw (members), and open (what the
recipient's page does, here for tests and for a recipient with a terminal).

    made = await create_share(client, booklet_id, seq, "+358401234567")
    made.link   # give or e-mail it: its secret is in the fragment, never sent to the server

The server sends the 8-digit code by SMS; this client never shows it (whoever holds both the
link and the code can read the file).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from secure_msg.client.attachments import attachments_of
from secure_msg.client.blobs import _raise_for
from secure_msg.client.client import Client
from secure_msg.client.http import Api, ClientError, b64d, b64e
from secure_msg.crypto import share
from secure_msg.crypto.errors import ProtocolError
from secure_msg.crypto.file_stream import MIN_CHUNK_SIZE, blob_length
from secure_msg.model.shares import DEFAULT_DAYS, DEFAULT_OPENS


@dataclass(frozen=True)
class MadeShare:
    link: str
    item: dict[str, Any]  # the server's ShareItem


async def create_share(client: Client, booklet_id: str, seq: int, phone: str, *,
                       file: int = 0, days: int = DEFAULT_DAYS, max_opens: int = DEFAULT_OPENS,
                       language: str = "fi") -> MadeShare:
    """Seal file number `file` of entry `seq` for an outsider; the server texts the code to
    `phone`. Returns the link (the only place its secret is)."""
    files = await attachments_of(client, booklet_id, seq)
    if not 0 <= file < len(files):
        raise ClientError(0, "bad-arguments", f"Entry #{seq} has {len(files)} file(s)")
    attachment = files[file]
    made = share.create(share.SharedFile(bytes.fromhex(booklet_id), attachment))
    item = await client.api.call("POST", f"/api/booklets/{booklet_id}/shares", {
        "id": made.share_id.hex(), "entry_seq": seq, "blob_id": attachment.blob_id,
        "sealed": b64e(made.sealed), "verifier": b64e(made.keys.verifier), "phone": phone,
        "code": made.code, "language": language, "days": days, "max_opens": max_opens})
    return MadeShare(share.link(client.api.base_url, made.share_id, made.link_secret), item)


async def list_shares(client: Client, booklet_id: str) -> list[dict[str, Any]]:
    answer = await client.api.call("GET", f"/api/booklets/{booklet_id}/shares")
    return list(answer["items"])


async def revoke_share(client: Client, booklet_id: str, share_id: str) -> dict[str, Any]:
    item: dict[str, Any] = await client.api.call(
        "POST", f"/api/booklets/{booklet_id}/shares/{share_id}/revoke")
    return item


@dataclass(frozen=True)
class Opened:
    name: str  # as the sharer's entry gives it; sanitise_filename before saving
    media_type: str
    data: bytes  # the file, every check of §4.7 passed


async def open_link(http: aiohttp.ClientSession, link: str, code: str) -> Opened:
    """What the recipient's page does: derive the keys, open the share with the token, fetch
    the blob and decrypt it. The whole file in memory (a recipient's document)."""
    parts = urlsplit(link)
    try:
        share_id, secret = share.parse_fragment(parts.fragment)
        keys = share.derive(share_id, secret, code)
    except ProtocolError as exc:
        raise ClientError(0, f"protocol/{exc.code}", "The link or the code is not right") from exc
    api = Api(f"{parts.scheme}://{parts.netloc}", http)
    body = {"token": b64e(keys.token)}
    opened = await api.call("POST", f"/api/shares/{share_id.hex()}/open", body)
    try:
        shared = share.open_sealed(keys, share_id, b64d(opened["sealed"]))
    except ProtocolError as exc:
        raise ClientError(0, f"protocol/{exc.code}", "The share failed its checks") from exc
    a = shared.attachment
    dec = a.decryptor(shared.booklet_id)
    out = bytearray()
    limit = blob_length(a.size, MIN_CHUNK_SIZE)
    async with http.post(f"{api.base_url}/api/shares/{share_id.hex()}/blob", json=body) as resp:
        await _raise_for(resp)
        got = 0
        try:
            async for chunk in resp.content.iter_chunked(1 << 16):
                got += len(chunk)
                if got > limit:
                    raise ClientError(502, "blob-too-large", "The server sent more than expected")
                out += dec.update(chunk)
            dec.finish()
        except ProtocolError as exc:
            raise ClientError(0, f"protocol/{exc.code}", "The file failed its checks") from exc
    return Opened(a.name, a.media_type, bytes(out))
