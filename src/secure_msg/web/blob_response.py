"""Sending a blob's bytes (an attachment, a shared document) as the blob store hands them.

A file (the SQLite backend's blob directory) goes with `web.FileResponse`: sendfile from the
page cache. Parts from the database (PostgreSQL) are streamed as they are read, a part at a
time, with the same contract a FileResponse gives a client: Content-Length, Accept-Ranges and
a single byte range answered 206 (416 when it cannot be), a strong ETag and 304 for
If-None-Match. The caller's headers (type, disposition, nosniff, caching) go on either.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from secure_msg.services.blob_service import Download

READ_CHUNK = 1 << 16


async def send_blob(request: web.Request, body: Download,
                    headers: Mapping[str, str]) -> web.StreamResponse:
    if body.path is not None:
        return web.FileResponse(body.path, chunk_size=READ_CHUNK, headers=headers)
    assert body.stream is not None
    response = web.StreamResponse(headers=headers)
    response.headers["Accept-Ranges"] = "bytes"
    if body.etag is not None:
        response.etag = body.etag
        if any(tag.value in (body.etag, "*") for tag in request.if_none_match or ()):
            response.set_status(304)
            await response.prepare(request)
            return response
    size, start, stop = body.size, 0, body.size
    try:
        asked = request.http_range
    except ValueError:
        return await _unsatisfiable(request, response, size)
    if asked.start is not None:
        if asked.start < 0 and asked.stop is None:  # the last bytes
            start = max(size + asked.start, 0)
        else:
            start, stop = asked.start, min(asked.stop if asked.stop is not None else size, size)
        if start >= size:
            return await _unsatisfiable(request, response, size)
        response.set_status(206)
        response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    response.content_length = stop - start
    await response.prepare(request)
    if request.method != "HEAD":
        async for piece in body.stream(start, stop):
            await response.write(piece)
    await response.write_eof()
    return response


async def _unsatisfiable(request: web.Request, response: web.StreamResponse,
                         size: int) -> web.StreamResponse:
    response.set_status(416)
    response.headers["Content-Range"] = f"bytes */{size}"
    response.content_length = 0
    await response.prepare(request)
    await response.write_eof()
    return response
