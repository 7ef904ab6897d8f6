"""Encrypted attachments: upload (streamed) and download. The bytes are ciphertext the server
cannot read; it never knows a file's name or type (services/blob_service.py).

    POST /api/booklets/{booklet_id}/blobs             application/octet-stream, Content-Length
    GET  /api/booklets/{booklet_id}/blobs/{blob_id}   the bytes, as an attachment

An upload is refused before any of its body is read when its token, length, membership or the
booklet's quota says no; a client that sends `Expect: 100-continue` is told to go on only then.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.http import HttpVersion11
from aiohttp.http_exceptions import HttpProcessingError

from secure_msg.errors import BadRequest, UnsupportedMediaType
from secure_msg.services import blob_service
from secure_msg.web import response_types as out
from secure_msg.web.auth import require_session, session_check
from secure_msg.web.blob_response import send_blob
from secure_msg.web.context import CONFIG
from secure_msg.web.json_io import b64, path_id
from secure_msg.web.middleware import LONG_BODY_TIMEOUTS
from secure_msg.web.openapi import BINARY, BINARY_SCHEMA, FILE_STATUSES, add_route
from secure_msg.web.services import services

READ_CHUNK = 1 << 16
BLOBS = "/api/booklets/{booklet_id}/blobs"
_DOWNLOAD_HEADERS = {
    "Content-Type": BINARY,
    # No file name: the server does not know it. The client names the file it decrypts.
    "Content-Disposition": "attachment",
    "X-Content-Type-Options": "nosniff",
}


async def _no_early_continue(request: web.Request) -> None:
    """Say nothing to `Expect: 100-continue` yet: upload_blob does once the upload is admitted,
    so that a refused client never sends its body."""


async def _send_continue(request: web.Request) -> None:
    if (request.version == HttpVersion11
            and request.headers.get("Expect", "").lower() == "100-continue"):
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # as aiohttp's own expect handler does
        await request.writer.drain()  # written at once, not with the response


async def upload_blob(request: web.Request) -> web.Response:
    check = session_check(request)
    try:
        booklet_id = path_id(request, "booklet_id")
        if request.content_type != BINARY:
            raise UnsupportedMediaType(f"Send {BINARY}.")
    except Exception:
        await require_session(request)  # a bad token is answered 401 first
        raise
    declared = request.content_length  # None when absent (or chunked): 411
    blobs = services(request).blobs
    session = await blob_service.admit(blobs, check, booklet_id, declared)
    assert declared is not None  # admit refused a missing length
    await _send_continue(request)
    try:
        row = await blob_service.store_upload(
            blobs, session, booklet_id, declared, request.content.iter_chunked(READ_CHUNK))
    except (ConnectionError, HttpProcessingError) as exc:
        # The client went away mid-body (a phone losing its network): nothing was stored, and
        # it is not the server's error to log. The answer reaches nobody.
        raise BadRequest("The upload ended before its Content-Length.") from exc
    answer: out.BlobUploaded = {"id": row.id.hex(), "size": row.size, "sha256": b64(row.sha256)}
    return web.json_response(answer, status=201)


async def download_blob(request: web.Request) -> web.StreamResponse:
    check = session_check(request)
    try:
        booklet_id = path_id(request, "booklet_id")
        blob_id = path_id(request, "blob_id")
    except Exception:
        await require_session(request)
        raise
    found = await blob_service.open_download(services(request).blobs, check, booklet_id,
                                             blob_id)
    # A file: sendfile from the page cache. Parts in the database: streamed, one at a time.
    return await send_blob(request, found, _DOWNLOAD_HEADERS)


def setup_routes(app: web.Application) -> None:
    t = ["attachments"]
    add_route(app, "POST", BLOBS, upload_blob, tags=t, status=201, auth=True, binary=True,
              errors=(422,),
              expect_handler=_no_early_continue, response=out.BlobUploaded,
              summary="Upload an encrypted attachment (streamed; Content-Length required); "
                      "pending until an entry lists it in blob_ids",
              description="Refused before the body is read: 411 without Content-Length, 413 "
                          "blob-too-large past [blobs] max_blob_bytes, 413 "
                          "booklet-quota-exceeded past [blobs] booklet_quota_bytes. With "
                          "`Expect: 100-continue` the server says continue only then. 422 "
                          "protocol-rejected when the blob's header (docs/protocol.md §4.7) "
                          "is not one, names another booklet, or the length fits no file.")
    add_route(app, "GET", f"{BLOBS}/{{blob_id}}", download_blob, tags=t, auth=True,
              response=BINARY_SCHEMA, response_type=BINARY, also=FILE_STATUSES,
              summary="Download an attachment's ciphertext (members holding the key of the "
                      "entry that lists it; its uploader while pending)")
    app.setdefault(LONG_BODY_TIMEOUTS, {})[BLOBS] = float(
        app[CONFIG].blobs.upload_timeout_seconds)
