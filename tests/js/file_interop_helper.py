"""Python side of tests/js/file-interop.test.mjs: reads one JSON request on stdin, answers on
stdout. Bytes travel as lowercase hex.

`seal`: verify the JS account's key statement, make a Python account, encrypt a file of the
requested size (file blob, §4.7) and seal a document entry naming it (§4.5) to both accounts.
`open`: as that Python account, open the document entry JS sealed, read its attachments, and
decrypt each blob in pieces with every check of §4.7.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from typing import Any

from secure_msg.crypto import envelope, file_stream, keys
from secure_msg.crypto.attachments import Attachment, sanitise_filename
from secure_msg.crypto.payloads import decode_payload, encode_payload

BOOKLET = bytes.fromhex("b0" * 16)
NAME = "Lausunto ‮fdp.exe lääkärille.pdf"


def _seal(req: dict[str, Any]) -> dict[str, Any]:
    js = keys.KeyStatement.parse(bytes.fromhex(req["js_statement"]))
    js.verify()
    me = keys.AccountKeys.generate(os.urandom(16))
    plaintext = os.urandom(req["size"])
    enc = file_stream.FileEncryptor(BOOKLET)
    pieces = (plaintext[i : i + 10_000] for i in range(0, len(plaintext), 10_000))
    blob = b"".join(enc.encrypt(pieces))
    att = Attachment("py-blob-1", enc.file_id, enc.file_key, NAME, "application/pdf", enc.size,
                     enc.sha256)
    sealed = envelope.seal_entry(
        me, booklet_id=BOOKLET, entry_id=os.urandom(16), kind=5, sequence=1,
        prev_hash=bytes(32), created_at=1_795_000_000_000,
        plaintext=encode_payload("document", attachments=[att.to_json()], text="Python → JS"),
        recipients=[(js.account_id, js.encryption_key), (me.account_id, me.encryption_public)],
    )
    return {
        "py_account_id": me.account_id.hex(),
        "py_identity_seed": me.identity_seed.hex(),
        "py_encryption_secret": me.encryption_secret.hex(),
        "py_statement": me.statement(1_795_000_000_000).encode().hex(),
        "envelope": sealed.hex(),
        "blob": blob.hex(),
        "plaintext_sha256": hashlib.sha256(plaintext).hexdigest(),
        "plaintext": plaintext.hex(),
    }


def _open(req: dict[str, Any]) -> dict[str, Any]:
    me = keys.AccountKeys.from_secrets(
        bytes.fromhex(req["py_account_id"]),
        bytes.fromhex(req["py_identity_seed"]),
        bytes.fromhex(req["py_encryption_secret"]),
    )
    js = keys.KeyStatement.parse(bytes.fromhex(req["js_statement"]))
    js.verify()
    opened = envelope.open_entry(
        bytes.fromhex(req["envelope"]), author_identity_key=js.identity_key,
        author_id=js.account_id, booklet_id=BOOKLET, me=me,
    )
    payload = decode_payload(opened.header.kind, opened.plaintext)
    files = []
    for item, blob_hex in zip(payload["attachments"], req["blobs"], strict=True):
        att = Attachment.from_json(item)
        blob = bytes.fromhex(blob_hex)
        dec = att.decryptor(BOOKLET)
        plaintext = b"".join(dec.decrypt(blob[i : i + 1000] for i in range(0, len(blob), 1000)))
        files.append({"blob_id": att.blob_id, "name": sanitise_filename(att.name),
                      "media_type": att.media_type, "plaintext": plaintext.hex()})
    return {"text": payload.get("text"), "files": files}


def main() -> None:
    req = json.load(sys.stdin)
    handler = {"seal": _seal, "open": _open}[req["command"]]
    json.dump(handler(req), sys.stdout)


if __name__ == "__main__":
    main()
