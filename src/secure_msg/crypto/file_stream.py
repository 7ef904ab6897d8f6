"""File blobs (docs/protocol.md §4.7): a file encrypted on the device in chunks, sans-IO.

The construction is STREAM (Hoang, Reyhanitabar, Rogaway, Vizár, "Online Authenticated-Encryption
and its Nonce-Reuse Misuse-Resistance", 2015), as age uses it: AES-256-GCM per chunk of fixed
plaintext size, the nonce being the chunk's index and a final-chunk flag, under a key derived
from the file's own key, its booklet and its file id. The 40-byte header is every chunk's AAD.
Nothing here does I/O: the encryptor and the decryptor take bytes and give bytes, so a 25 MB file
passes through in constant memory (a chunk and whatever the caller hands in at once).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from . import labels
from .encoding import prefix, u32
from .errors import ProtocolError
from .rng import Rng, system_rng

CHUNK_SIZE = 65_536  # what writers use
MIN_CHUNK_SIZE = 64
MAX_CHUNK_SIZE = 1_048_576  # bounds a reader's buffer whatever the author chose
HEADER_LEN = 40
TAG_LEN = 16
KEY_LEN = 32
FILE_ID_LEN = 16
MAX_FILE_SIZE = 2**53 - 1  # JSON readers' exact integers (the payload's `size`)

Buffer = bytes | bytearray | memoryview


@dataclass(frozen=True)
class FileHeader:
    """The blob's first 40 bytes: what the server may read without any key."""

    booklet_id: bytes
    file_id: bytes
    chunk_size: int

    def encode(self) -> bytes:
        return prefix(labels.TYPE_FILE_BLOB) + self.booklet_id + self.file_id + u32(self.chunk_size)


def _valid_chunk_size(n: int) -> bool:
    return MIN_CHUNK_SIZE <= n <= MAX_CHUNK_SIZE and n & (n - 1) == 0


def parse_header(data: bytes) -> FileHeader:
    """The header of §4.7 from the first 40 bytes of a blob (more bytes are not looked at)."""
    if len(data) < HEADER_LEN:
        raise ProtocolError("file-truncated", "the blob ends inside its header")
    if data[0] != labels.VERSION:
        raise ProtocolError("unsupported-version")
    if int.from_bytes(data[1:3], "big") != labels.SUITE:
        raise ProtocolError("unsupported-suite")
    if data[3] != labels.TYPE_FILE_BLOB:
        raise ProtocolError("wrong-type")
    chunk_size = int.from_bytes(data[36:40], "big")
    if not _valid_chunk_size(chunk_size):
        raise ProtocolError("malformed", "chunk size")
    return FileHeader(bytes(data[4:20]), bytes(data[20:36]), chunk_size)


def chunk_count(size: int, chunk_size: int = CHUNK_SIZE) -> int:
    """Chunks of a file of `size` bytes: at least one (an empty file is one empty final chunk)."""
    return max(1, -(-size // chunk_size))


def blob_length(size: int, chunk_size: int = CHUNK_SIZE) -> int:
    """The exact length of the blob of a `size`-byte file: header, plaintext, one tag a chunk."""
    if not 0 <= size <= MAX_FILE_SIZE:
        raise ValueError("file size out of range")
    return HEADER_LEN + size + TAG_LEN * chunk_count(size, chunk_size)


def plaintext_length(blob_len: int, chunk_size: int = CHUNK_SIZE) -> int | None:
    """The file size a blob of `blob_len` bytes holds, or None when no file has that blob length.
    Keyless: a server can check an upload's length against the chunk size in its header."""
    body = blob_len - HEADER_LEN
    if body == TAG_LEN:
        return 0
    if body < TAG_LEN:
        return None
    full, rest = divmod(body, chunk_size + TAG_LEN)
    if rest == 0:
        return full * chunk_size
    if rest <= TAG_LEN:  # a last chunk with no plaintext exists only in an empty file
        return None
    return full * chunk_size + rest - TAG_LEN


def chunk_key(file_key: bytes, booklet_id: bytes, file_id: bytes) -> bytes:
    """HKDF-SHA256(file_key, info = "secure-msg/v1/file-chunk-key" 0x00 || booklet_id || file_id):
    a file key reused for another file or booklet still never repeats a (key, nonce) pair."""
    if len(file_key) != KEY_LEN or len(booklet_id) != 16 or len(file_id) != FILE_ID_LEN:
        raise ProtocolError("malformed", "file key, booklet id or file id of the wrong length")
    info = labels.labelled(labels.FILE_CHUNK_KEY, booklet_id, file_id)
    return HKDF(hashes.SHA256(), 32, salt=None, info=info).derive(file_key)


def chunk_nonce(index: int, final: bool) -> bytes:
    """u88 index || 0x01 for the last chunk, 0x00 for the others (STREAM's nonce)."""
    return index.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


def new_file_key(rng: Rng = system_rng) -> bytes:
    return rng(KEY_LEN)


class FileEncryptor:
    """Encrypts one file for one booklet. Feed plaintext to `update` in pieces of any size, then
    call `finish`; concatenated, their outputs are the blob. The key and file id are drawn from
    `rng` (in that order) unless given. `size` and `sha256` are the file's, once finished."""

    def __init__(
        self,
        booklet_id: bytes,
        *,
        file_key: bytes | None = None,
        file_id: bytes | None = None,
        chunk_size: int = CHUNK_SIZE,
        rng: Rng = system_rng,
    ) -> None:
        if not _valid_chunk_size(chunk_size):
            raise ValueError("chunk size must be a power of two from 64 to 1 MiB")
        self.file_key = file_key if file_key is not None else new_file_key(rng)
        self.file_id = file_id if file_id is not None else rng(FILE_ID_LEN)
        self.booklet_id = booklet_id
        self.chunk_size = chunk_size
        self.header = FileHeader(booklet_id, self.file_id, chunk_size).encode()
        self._aead = AESGCM(chunk_key(self.file_key, booklet_id, self.file_id))
        self._hash = hashlib.sha256()
        self._buf = bytearray()
        self._index = 0
        self._size = 0
        self._header_sent = False
        self._finished = False

    def _chunk(self, data: Buffer, final: bool) -> bytes:
        ct = self._aead.encrypt(chunk_nonce(self._index, final), bytes(data), self.header)
        self._index += 1
        return ct

    def _start(self) -> list[bytes]:
        if self._header_sent:
            return []
        self._header_sent = True
        return [self.header]

    def update(self, data: Buffer) -> bytes:
        """The ciphertext that `data` completes (the header first), b"" while a chunk fills.
        A full chunk is held back until more follows: only `finish` knows which chunk is last."""
        if self._finished:
            raise ValueError("the encryptor is finished")
        self._hash.update(data)
        self._size += len(data)
        if self._size > MAX_FILE_SIZE:
            raise ValueError("file too large")
        self._buf += data
        out = self._start()
        c = self.chunk_size
        view = memoryview(self._buf)
        at = 0
        while len(self._buf) - at > c:
            out.append(self._chunk(view[at : at + c], final=False))
            at += c
        view.release()
        del self._buf[:at]
        return b"".join(out)

    def finish(self) -> bytes:
        """The last chunk (flagged final; empty only for an empty file)."""
        if self._finished:
            raise ValueError("the encryptor is finished")
        self._finished = True
        out = self._start()
        out.append(self._chunk(self._buf, final=True))
        self._buf = bytearray()
        return b"".join(out)

    def encrypt(self, pieces: Iterable[Buffer]) -> Iterator[bytes]:
        """`update` on each piece, then `finish`; yields only non-empty ciphertext."""
        for piece in pieces:
            if out := self.update(piece):
                yield out
        yield self.finish()

    @property
    def size(self) -> int:
        self._check_finished()
        return self._size

    @property
    def sha256(self) -> bytes:
        """SHA-256 of the plaintext, unlabelled (anyone can check a saved file with sha256sum)."""
        self._check_finished()
        return self._hash.digest()

    def _check_finished(self) -> None:
        if not self._finished:
            raise ValueError("the encryptor is not finished")


class FileDecryptor:
    """Decrypts and checks one blob against what its entry says (§4.7 "Reading"). Feed the blob
    in pieces of any size to `update`, which returns the plaintext they complete; `finish` checks
    the end and the SHA-256. The plaintext is authentic chunk by chunk, but only a `finish`
    without error says the file is whole: write it aside and keep it only then."""

    def __init__(
        self, file_key: bytes, booklet_id: bytes, file_id: bytes, size: int, sha256: bytes
    ) -> None:
        if not 0 <= size <= MAX_FILE_SIZE:
            raise ProtocolError("malformed", "file size out of range")
        if len(sha256) != 32:
            raise ProtocolError("malformed", "a SHA-256 is 32 bytes")
        self._booklet_id = booklet_id
        self._file_id = file_id
        self._size = size
        self._sha256 = sha256
        self._key = chunk_key(file_key, booklet_id, file_id)  # checks the lengths
        self._header: bytes | None = None
        self._aead: AESGCM | None = None
        self._count = 0
        self._last_len = 0
        self._chunk_size = 0
        self._index = 0
        self._buf = bytearray()
        self._hash = hashlib.sha256()
        self._error: ProtocolError | None = None
        self._finished = False

    def update(self, data: Buffer) -> bytes:
        if self._error is not None:
            raise self._error
        if self._finished:
            raise ValueError("the decryptor is finished")
        try:
            return self._update(data)
        except ProtocolError as exc:
            self._error = exc
            self._buf = bytearray()
            raise

    def _update(self, data: Buffer) -> bytes:
        if self._aead is not None and self._index == self._count:
            if data:
                raise ProtocolError("file-extended", "bytes after the final chunk")
            return b""
        self._buf += data
        if self._aead is None:
            if len(self._buf) < HEADER_LEN:
                return b""
            self._start(bytes(self._buf[:HEADER_LEN]))
            del self._buf[:HEADER_LEN]
        out: list[bytes] = []
        view = memoryview(self._buf)
        at = 0
        try:
            while self._index < self._count:
                final = self._index == self._count - 1
                need = (self._last_len if final else self._chunk_size) + TAG_LEN
                if len(self._buf) - at < need:
                    break
                out.append(self._open(view[at : at + need], self._index, final))
                at += need
                self._index += 1
            if self._index == self._count and len(self._buf) > at:
                raise ProtocolError("file-extended", "bytes after the final chunk")
        finally:
            view.release()
        del self._buf[:at]
        plaintext = b"".join(out)
        self._hash.update(plaintext)
        return plaintext

    def _start(self, header: bytes) -> None:
        parsed = parse_header(header)
        if parsed.booklet_id != self._booklet_id:
            raise ProtocolError("wrong-booklet", "the file blob is another booklet's")
        if parsed.file_id != self._file_id:
            raise ProtocolError("file-wrong-file", "the blob is another file's")
        self._header = header
        self._chunk_size = parsed.chunk_size
        self._count = chunk_count(self._size, parsed.chunk_size)
        self._last_len = self._size - (self._count - 1) * parsed.chunk_size
        self._aead = AESGCM(self._key)

    def _open(self, ct: memoryview, index: int, final: bool) -> bytes:
        assert self._aead is not None
        assert self._header is not None
        data = bytes(ct)
        try:
            return self._aead.decrypt(chunk_nonce(index, final), data, self._header)
        except InvalidTag:
            pass
        # Only naming the error: a chunk that opens at another position was moved. Costs at most
        # one more pass over the file, once, since the first failure ends the read.
        for j in range(self._count):
            if j == index:
                continue
            try:
                self._aead.decrypt(chunk_nonce(j, j == self._count - 1), data, self._header)
            except InvalidTag:
                continue
            raise ProtocolError("file-chunk-order", f"chunk {index} is chunk {j}")
        raise ProtocolError("file-chunk-invalid", f"chunk {index} does not open")

    def finish(self) -> None:
        """Checks that the blob ended after its final chunk and the plaintext's SHA-256."""
        if self._error is not None:
            raise self._error
        if self._finished:
            return
        try:
            if self._aead is None or self._index < self._count:
                raise ProtocolError("file-truncated", "the blob ends before its final chunk")
            if not hmac.compare_digest(self._hash.digest(), self._sha256):
                raise ProtocolError("file-hash-mismatch", "the file is not the one the entry names")
        except ProtocolError as exc:
            self._error = exc
            raise
        self._finished = True

    def decrypt(self, pieces: Iterable[Buffer]) -> Iterator[bytes]:
        """`update` on each piece, then `finish`; yields only non-empty plaintext. The last
        plaintext is yielded before `finish` runs: a consumer keeps the file only once this
        generator is exhausted without raising."""
        for piece in pieces:
            if out := self.update(piece):
                yield out
        self.finish()


def encrypt_file(
    plaintext: bytes,
    booklet_id: bytes,
    *,
    file_key: bytes | None = None,
    file_id: bytes | None = None,
    chunk_size: int = CHUNK_SIZE,
    rng: Rng = system_rng,
) -> tuple[bytes, FileEncryptor]:
    """A whole file at once: the blob, and the finished encryptor (key, file id, size, hash)."""
    enc = FileEncryptor(booklet_id, file_key=file_key, file_id=file_id, chunk_size=chunk_size,
                        rng=rng)
    blob = enc.update(plaintext) + enc.finish()
    return blob, enc


def decrypt_file(
    blob: bytes, file_key: bytes, booklet_id: bytes, file_id: bytes, size: int, sha256: bytes
) -> bytes:
    """A whole blob at once, every check of §4.7."""
    dec = FileDecryptor(file_key, booklet_id, file_id, size, sha256)
    out = dec.update(blob)
    dec.finish()
    return out
