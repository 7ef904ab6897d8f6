"""The file blob API (crypto/file_stream.py, crypto/attachments.py) beyond the vectors: how the
encryptor and decryptor are driven, what they refuse, and that memory stays flat."""

from __future__ import annotations

import hashlib
import itertools
import tracemalloc
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secure_msg.crypto import file_stream as fs
from secure_msg.crypto.attachments import Attachment, media_type_policy
from secure_msg.crypto.errors import ProtocolError
from secure_msg.crypto.payloads import decode_payload, encode_payload
from secure_msg.crypto.rng import SeededRng

BOOKLET = b"\xb0" * 16
FILE_ERRORS = {"file-truncated", "file-extended", "file-chunk-order", "file-chunk-invalid",
               "file-wrong-file", "file-hash-mismatch", "wrong-booklet", "malformed",
               "unsupported-version", "unsupported-suite", "wrong-type"}


def _source(size: int, piece: int = 65_536) -> Iterator[bytes]:
    block = hashlib.sha256(b"file").digest() * (piece // 32)
    for at in range(0, size, piece):
        yield block[: min(piece, size - at)]


def test_key_and_file_id_are_drawn_in_that_order() -> None:
    enc = fs.FileEncryptor(BOOKLET, rng=SeededRng(b"s"))
    drawn = SeededRng(b"s")
    assert (enc.file_key, enc.file_id) == (drawn(32), drawn(16))
    assert enc.header == fs.FileHeader(BOOKLET, enc.file_id, fs.CHUNK_SIZE).encode()


def test_the_header_comes_first_and_a_full_chunk_waits_for_what_follows() -> None:
    enc = fs.FileEncryptor(BOOKLET, chunk_size=64)
    assert enc.update(b"") == enc.header  # the header as soon as anything is asked
    assert enc.update(b"a" * 64) == b""  # maybe the last chunk: held back
    assert len(enc.update(b"b")) == 64 + 16  # now it is not
    assert len(enc.finish()) == 1 + 16
    with pytest.raises(ValueError, match="finished"):
        enc.update(b"x")


def test_an_empty_file_is_its_header_and_one_empty_final_chunk() -> None:
    enc = fs.FileEncryptor(BOOKLET)
    blob = enc.finish()
    assert len(blob) == fs.HEADER_LEN + fs.TAG_LEN == fs.blob_length(0)
    assert (enc.size, enc.sha256) == (0, hashlib.sha256(b"").digest())
    assert fs.decrypt_file(blob, enc.file_key, BOOKLET, enc.file_id, 0, enc.sha256) == b""


def test_size_and_hash_are_known_only_once_finished() -> None:
    enc = fs.FileEncryptor(BOOKLET)
    enc.update(b"abc")
    with pytest.raises(ValueError, match="not finished"):
        _ = enc.sha256


@pytest.mark.parametrize("chunk_size", [0, 32, 63, 65, 100, 2**21])
def test_a_writer_refuses_a_chunk_size_readers_refuse(chunk_size: int) -> None:
    with pytest.raises(ValueError, match="chunk size"):
        fs.FileEncryptor(BOOKLET, chunk_size=chunk_size)


def test_a_reader_refuses_keys_ids_and_sizes_of_the_wrong_form() -> None:
    with pytest.raises(ProtocolError, match="malformed"):
        fs.FileDecryptor(b"k" * 31, BOOKLET, b"f" * 16, 0, bytes(32))
    with pytest.raises(ProtocolError, match="malformed"):
        fs.FileDecryptor(b"k" * 32, BOOKLET, b"f" * 15, 0, bytes(32))
    with pytest.raises(ProtocolError, match="malformed"):
        fs.FileDecryptor(b"k" * 32, BOOKLET, b"f" * 16, -1, bytes(32))
    with pytest.raises(ProtocolError, match="malformed"):
        fs.FileDecryptor(b"k" * 32, BOOKLET, b"f" * 16, 0, bytes(31))


def test_a_reader_stops_at_the_first_error_and_gives_no_more_plaintext() -> None:
    blob, enc = fs.encrypt_file(b"x" * 300, BOOKLET, chunk_size=64)
    damaged = bytearray(blob)
    damaged[fs.HEADER_LEN + 80 + 3] ^= 1  # chunk 1
    dec = fs.FileDecryptor(enc.file_key, BOOKLET, enc.file_id, 300, enc.sha256)
    assert dec.update(bytes(damaged[:150])) == b"x" * 64  # chunk 0 is authentic
    with pytest.raises(ProtocolError, match="file-chunk-invalid"):
        dec.update(bytes(damaged[150:]))
    with pytest.raises(ProtocolError, match="file-chunk-invalid"):
        dec.update(b"")


def test_the_last_plaintext_comes_before_the_hash_check() -> None:
    """`decrypt` yields the final chunk and only then fails: the caller keeps the file only when
    the generator ends without an error."""
    blob, enc = fs.encrypt_file(b"y" * 100, BOOKLET, chunk_size=64)
    dec = fs.FileDecryptor(enc.file_key, BOOKLET, enc.file_id, 100, hashlib.sha256(b"z").digest())
    pieces = dec.decrypt([blob])
    assert next(pieces) == b"y" * 100
    with pytest.raises(ProtocolError, match="file-hash-mismatch"):
        next(pieces)


def test_an_attachment_names_its_blob_and_opens_it() -> None:
    blob, enc = fs.encrypt_file(b"%PDF-1.7 ...", BOOKLET)
    att = Attachment("b1", enc.file_id, enc.file_key, "scan.pdf", "application/pdf", enc.size,
                     enc.sha256)
    payload = decode_payload(5, encode_payload("document", attachments=[att.to_json()]))
    again = Attachment.from_json(payload["attachments"][0])
    assert again == att
    dec = again.decryptor(BOOKLET)
    assert dec.update(blob) == b"%PDF-1.7 ..."
    dec.finish()
    with pytest.raises(ProtocolError, match="wrong-booklet"):
        again.decryptor(b"\xb1" * 16).update(blob)


def test_a_writer_refuses_an_attachment_a_reader_would_refuse() -> None:
    att = {"blob_id": "../x", "file_id": "00" * 16, "key": "00" * 32, "name": "a",
           "media_type": "image/png", "size": 1, "sha256": "00" * 32}
    with pytest.raises(ProtocolError, match="bad-payload"):
        encode_payload("document", attachments=[att])
    with pytest.raises(ProtocolError, match="bad-payload"):
        encode_payload("document", attachments=[{**att, "blob_id": "x", "size": 1.5}])


def test_a_configured_allow_list_narrows_but_never_widens() -> None:
    assert media_type_policy("image/png", frozenset({"application/pdf"})) is None
    assert media_type_policy("text/html", frozenset({"text/html"})) is None
    assert media_type_policy("application/pdf", frozenset({"application/pdf"})) == "download"


def test_a_16_mb_file_streams_through_in_constant_memory() -> None:
    """Encrypting and decrypting allocate a few chunks at most, whatever the file's size."""
    size = 16_000_000
    tracemalloc.start()
    try:
        enc = fs.FileEncryptor(BOOKLET)
        again = fs.FileEncryptor(BOOKLET, file_key=enc.file_key, file_id=enc.file_id)
        for _ in enc.encrypt(_source(size)):
            pass
        dec = fs.FileDecryptor(enc.file_key, BOOKLET, enc.file_id, enc.size, enc.sha256)
        total = sum(len(p) for p in dec.decrypt(again.encrypt(_source(size))))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == size
    assert peak < 1_500_000, peak


def _read(blob: bytes, enc: fs.FileEncryptor, cuts: list[int]) -> bytes:
    dec = fs.FileDecryptor(enc.file_key, BOOKLET, enc.file_id, enc.size, enc.sha256)
    bounds = [0, *sorted(c % (len(blob) + 1) for c in cuts), len(blob)]
    return b"".join(dec.decrypt(blob[a:b] for a, b in itertools.pairwise(bounds)))


@settings(max_examples=150, deadline=None)
@given(plaintext=st.binary(max_size=400), cuts=st.lists(st.integers(0, 10_000), max_size=6),
       chunk_size=st.sampled_from([64, 128]))
def test_any_file_cut_anywhere_reads_back(plaintext: bytes, cuts: list[int],
                                          chunk_size: int) -> None:
    blob, enc = fs.encrypt_file(plaintext, BOOKLET, chunk_size=chunk_size)
    assert _read(blob, enc, cuts) == plaintext


@settings(max_examples=300, deadline=None)
@given(plaintext=st.binary(max_size=300), data=st.data())
def test_any_changed_blob_is_a_named_error_never_a_file(
    plaintext: bytes, data: st.DataObject
) -> None:
    """A flipped bit, a cut, an inserted or a removed byte anywhere: always one of §4.7's
    errors, the same however the stream is cut, never a crash and never a file."""
    blob, enc = fs.encrypt_file(plaintext, BOOKLET, chunk_size=64)
    at = data.draw(st.integers(0, len(blob) - 1))
    change = data.draw(st.sampled_from(["flip", "cut", "insert", "remove"]))
    if change == "flip":
        bad = blob[:at] + bytes([blob[at] ^ (1 << data.draw(st.integers(0, 7)))]) + blob[at + 1 :]
    elif change == "cut":
        bad = blob[:at]
    elif change == "insert":
        bad = blob[:at] + bytes([data.draw(st.integers(0, 255))]) + blob[at:]
    else:
        bad = blob[:at] + blob[at + 1 :]
    codes = set()
    for cuts in ([], data.draw(st.lists(st.integers(0, 10_000), max_size=5))):
        with pytest.raises(ProtocolError) as err:
            _read(bad, enc, cuts)
        codes.add(err.value.code)
    assert len(codes) == 1
    assert codes <= FILE_ERRORS
