"""Documents with files (docs/protocol.md §4.5 second form, §4.7): encrypt each file on this
device in chunks, upload the blobs streamed, post the entry that names them; and download,
check and decrypt the files of an entry into a folder under sanitised names.

    posted = await post_files(client, booklet_id, [Path("lausunto.pdf")], text="…")
    saved = await save_files(client, booklet_id, seq, Path("."))

A file is read once, in pieces: its plaintext is never whole in memory, nor is its blob. The
server gets the blob and its length, never the name, the type or the key (those are in the
sealed entry).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from secure_msg.client import blobs
from secure_msg.client.client import Client
from secure_msg.client.http import ClientError
from secure_msg.crypto.attachments import (
    ALLOWED_MEDIA_TYPES,
    Attachment,
    media_type_for_name,
    media_type_policy,
    sanitise_filename,
)
from secure_msg.crypto.errors import ProtocolError
from secure_msg.crypto.file_stream import (
    CHUNK_SIZE,
    MIN_CHUNK_SIZE,
    FileEncryptor,
    blob_length,
)

READ_PIECE = 1 << 20


@dataclass(frozen=True)
class Saved:
    name: str  # the sanitised name the file was saved under
    path: Path
    size: int
    media_type: str


def _media_type(path: Path, allowed: frozenset[str]) -> str:
    media_type = media_type_for_name(path.name)
    if media_type is None or media_type_policy(media_type, allowed) is None:
        raise ClientError(0, "media-type-not-allowed",
                          f"{path.name}: not a file type the booklet takes (PDF, images, "
                          "office documents, text)")
    return media_type


async def _encrypted(path: Path, size: int, enc: FileEncryptor) -> AsyncIterator[bytes]:
    """The blob of the file's first `size` bytes, a piece at a time; a file that changed size
    while being read is refused (the length was already sent)."""
    left = size
    with path.open("rb") as f:
        while left:
            piece = await asyncio.to_thread(f.read, min(READ_PIECE, left))
            if not piece:
                raise ClientError(0, "file-changed", f"{path.name} got shorter while read")
            left -= len(piece)
            if out := enc.update(piece):
                yield out
    yield enc.finish()


async def upload_file(client: Client, booklet_id: str, path: Path,
                      allowed: frozenset[str] = ALLOWED_MEDIA_TYPES) -> Attachment:
    """Encrypt and upload one file as a pending blob; the attachment record for the entry."""
    media_type = _media_type(path, allowed)
    size = (await asyncio.to_thread(path.stat)).st_size
    enc = FileEncryptor(bytes.fromhex(booklet_id))
    blob = await blobs.upload(client.api, booklet_id, _encrypted(path, size, enc),
                              blob_length(size, CHUNK_SIZE))
    return Attachment(blob_id=blob["id"], file_id=enc.file_id, key=enc.file_key,
                      name=path.name, media_type=media_type, size=enc.size,
                      sha256=enc.sha256)


async def post_files(client: Client, booklet_id: str, paths: Sequence[Path], *,
                     text: str | None = None, allow_unverified: bool = True,
                     allowed: frozenset[str] = ALLOWED_MEDIA_TYPES,
                     fulfils_request: str | None = None) -> dict[str, Any]:
    """Upload every file, then post one document entry naming them all (and listing their
    blobs, which the server then keeps). Types are checked before anything is sent."""
    for path in paths:
        _media_type(path, allowed)
    attachments = [await upload_file(client, booklet_id, p, allowed) for p in paths]
    fields: dict[str, Any] = {"attachments": [a.to_json() for a in attachments]}
    if text:
        fields["text"] = text
    return await client.post(booklet_id, "document", allow_unverified=allow_unverified,
                             blob_ids=[a.blob_id for a in attachments],
                             fulfils_request=fulfils_request, **fields)


async def attachments_of(client: Client, booklet_id: str, seq: int) -> list[Attachment]:
    """The files entry `seq` names, from its decrypted and verified payload."""
    for entry in await client.read(booklet_id, since=seq - 1):
        if entry.seq != seq:
            continue
        if entry.error:
            raise ClientError(0, entry.error, f"Entry #{seq} failed its checks")
        if entry.kind != "document" or "attachments" not in entry.payload:
            raise ClientError(0, "no-attachments", f"Entry #{seq} has no files")
        return [Attachment.from_json(a) for a in entry.payload["attachments"]]
    raise ClientError(404, "not-found", f"No entry #{seq} that I can read")


def _free_name(folder: Path, name: str) -> Path:
    """`name` in `folder`, or "name (2).ext" and so on: never over an existing file."""
    stem, dot, ext = name.rpartition(".") if "." in name.lstrip(".") else (name, "", "")
    for n in range(1, 1000):
        candidate = folder / (name if n == 1 else f"{stem} ({n}){dot}{ext}")
        if not candidate.exists():
            return candidate
    raise ClientError(0, "no-free-name", f"Too many files named {name} in {folder}")


async def save_file(client: Client, booklet_id: str, attachment: Attachment,
                    folder: Path) -> Saved:
    """Download, decrypt and check one file (§4.7 "Reading"): written to a hidden temporary
    file beside its target and given its sanitised name only once every check has passed."""
    dec = attachment.decryptor(bytes.fromhex(booklet_id))
    partial = folder / f".secure-msg-{os.urandom(8).hex()}.part"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            def sink(data: bytes) -> None:
                if plain := dec.update(data):
                    out.write(plain)

            await blobs.download(client.api, booklet_id, attachment.blob_id, sink,
                                 blob_length(attachment.size, MIN_CHUNK_SIZE))
            dec.finish()
        name = sanitise_filename(attachment.name)
        target = _free_name(folder, name)
        os.link(partial, target)  # fails rather than replace a file that appeared meanwhile
    except ProtocolError as exc:
        raise ClientError(0, f"protocol/{exc.code}",
                          f"{sanitise_filename(attachment.name)}: the file failed its checks "
                          f"({exc.code}); nothing was saved") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return Saved(target.name, target, attachment.size, attachment.media_type)


async def save_files(client: Client, booklet_id: str, seq: int, folder: Path) -> list[Saved]:
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    return [await save_file(client, booklet_id, a, folder)
            for a in await attachments_of(client, booklet_id, seq)]
