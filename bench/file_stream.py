"""File blobs (docs/protocol.md §4.7): throughput and memory of encrypting and decrypting a
25 MB file in the client, streamed in 64 KiB pieces as from a disk or a socket.

Peak memory is tracemalloc's (what Python allocates on top of the start, the ciphertext and
plaintext pieces passing through included) and the process's peak RSS growth. Run:
`.venv/bin/python bench/file_stream.py [MB]`.
"""

from __future__ import annotations

import hashlib
import resource
import sys
import time
import tracemalloc
from collections.abc import Iterator

from secure_msg.crypto.file_stream import FileDecryptor, FileEncryptor

BOOKLET = b"\xb0" * 16
PIECE = 65_536


def source(size: int, seed: bytes) -> Iterator[bytes]:
    """`size` bytes in PIECE-sized pieces, made on the fly so no copy of the file is held."""
    block = hashlib.sha256(seed).digest() * (PIECE // 32)
    for at in range(0, size, PIECE):
        yield block[: min(PIECE, size - at)]


def pieces_of(stream: Iterator[bytes], n: int) -> Iterator[bytes]:
    """Re-cut a stream into pieces of `n` bytes, as a socket would deliver it."""
    buf = b""
    for part in stream:
        buf += part
        while len(buf) >= n:
            yield buf[:n]
            buf = buf[n:]
    if buf:
        yield buf


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory(size: int) -> tuple[float, float]:
    """tracemalloc peaks (MB) of encrypting, then of decrypting while encrypting again (the
    encryptor is deterministic for a key and file id, so no copy of the blob is ever held)."""
    tracemalloc.start()
    enc = FileEncryptor(BOOKLET)
    for _ in enc.encrypt(source(size, b"x")):
        pass
    _, peak_enc = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    again = FileEncryptor(BOOKLET, file_key=enc.file_key, file_id=enc.file_id)
    dec = FileDecryptor(enc.file_key, BOOKLET, enc.file_id, enc.size, enc.sha256)
    out = sum(len(p) for p in dec.decrypt(pieces_of(again.encrypt(source(size, b"x")), 8192)))
    _, peak_dec = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert out == size
    return peak_enc / 1e6, peak_dec / 1e6


def speed(size: int) -> tuple[float, float, int]:
    """MB/s of encrypting and of decrypting (from a blob in memory, in 64 KiB pieces)."""
    enc = FileEncryptor(BOOKLET)
    start = time.perf_counter()
    blob = b"".join(enc.encrypt(source(size, b"y")))
    t_enc = time.perf_counter() - start
    dec = FileDecryptor(enc.file_key, BOOKLET, enc.file_id, enc.size, enc.sha256)
    view = memoryview(blob)
    start = time.perf_counter()
    out = sum(len(p) for p in dec.decrypt(view[i : i + PIECE] for i in range(0, len(blob), PIECE)))
    t_dec = time.perf_counter() - start
    assert out == size
    return size / t_enc / 1e6, size / t_dec / 1e6, len(blob)


def main(size_mb: int = 25) -> None:
    size = size_mb * 1_000_000
    rss_before = rss_mb()
    peak_enc, peak_dec = memory(size)
    rss_streamed = rss_mb()
    enc_mbs, dec_mbs, blob_len = speed(size)
    print(f"file {size_mb} MB, blob {blob_len} bytes ({blob_len - size} bytes overhead)")
    print(f"streamed: tracemalloc peak {peak_enc:.2f} MB encrypting, {peak_dec:.2f} MB "
          f"decrypting; peak RSS growth {rss_streamed - rss_before:.1f} MB")
    print(f"throughput: encrypt {enc_mbs:.0f} MB/s, decrypt {dec_mbs:.0f} MB/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if sys.argv[1:] else 25)
