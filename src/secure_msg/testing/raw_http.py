"""HTTP/1.1 on a bare socket, for tests of what a client library would never send (a latin-1
byte in a header, Content-Length with Transfer-Encoding, an 8 KB request line, a head sent one
byte at a time) and of when the server closes the connection.

    async with RawConnection.open(host, port) as conn:
        await conn.send(b"GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
        response = await conn.response()
        assert await conn.closed_within(2.0)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

from multidict import CIMultiDict


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: CIMultiDict[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class RawConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    @asynccontextmanager
    async def open(cls, host: str, port: int) -> AsyncIterator[RawConnection]:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            yield cls(reader, writer)
        finally:
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response(self, within: float = 10.0, *, head: bool = False) -> RawResponse:
        """One response with a Content-Length (or none, read to EOF); `head`: the answer to a
        HEAD request, which has no body whatever its Content-Length says."""
        async with asyncio.timeout(within):
            raw_head = await self.reader.readuntil(b"\r\n\r\n")
            status_line, *lines = raw_head.decode("latin-1").split("\r\n")
            headers: CIMultiDict[str] = CIMultiDict()
            for line in filter(None, lines):
                name, _, value = line.partition(":")
                headers.add(name.strip(), value.strip())
            length = headers.get("Content-Length")
            if head:
                body = b""
            elif length is not None:
                body = await self.reader.readexactly(int(length))
            else:
                body = await self.reader.read()
        return RawResponse(int(status_line.split(" ")[1]), headers, body)

    async def closed_within(self, seconds: float) -> bool:
        """True if the server closes the connection (EOF or reset) within `seconds`; any bytes
        it sends before closing are read and dropped."""
        try:
            async with asyncio.timeout(seconds):
                while await self.reader.read(65536):
                    pass
        except TimeoutError:
            return False
        except ConnectionError:
            return True
        return True


async def request(host: str, port: int, data: bytes, within: float = 10.0) -> RawResponse:
    """Send `data` on a new connection and read one response."""
    async with RawConnection.open(host, port) as conn:
        await conn.send(data)
        return await conn.response(within)
