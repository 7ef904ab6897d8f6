"""Python side of tests/js/interop.test.mjs: reads one JSON request on stdin, answers on stdout.

`seal`: verify the JS account's key statement, make a Python account, seal an entry from it to both.
`open`: as that Python account, server-verify and open the entry and the history grant JS sealed.
Bytes travel as lowercase hex.
"""

from __future__ import annotations

import json
import os
import sys

from secure_msg.crypto import envelope, grant, keys

BOOKLET = bytes.fromhex("b0" * 16)
PLAINTEXT = '{"kind":"note","text":"Python → JS: hyvää päivää 👋"}'.encode()


def _seal(req: dict[str, str]) -> dict[str, str]:
    js = keys.KeyStatement.parse(bytes.fromhex(req["js_statement"]))
    js.verify()
    me = keys.AccountKeys.generate(os.urandom(16))
    recipients = [(js.account_id, js.encryption_key), (me.account_id, me.encryption_public)]
    sealed = envelope.seal_entry(
        me, booklet_id=BOOKLET, entry_id=os.urandom(16), kind=2, sequence=1,
        prev_hash=bytes(32), created_at=1_795_000_000_000, plaintext=PLAINTEXT,
        recipients=recipients,
    )
    return {
        "py_account_id": me.account_id.hex(),
        "py_identity_seed": me.identity_seed.hex(),
        "py_encryption_secret": me.encryption_secret.hex(),
        "py_statement": me.statement(1_795_000_000_000).encode().hex(),
        "envelope": sealed.hex(),
        "entry_hash": envelope.entry_hash(sealed).hex(),
    }


def _open(req: dict[str, str]) -> dict[str, str]:
    me = keys.AccountKeys.from_secrets(
        bytes.fromhex(req["py_account_id"]),
        bytes.fromhex(req["py_identity_seed"]),
        bytes.fromhex(req["py_encryption_secret"]),
    )
    js = keys.KeyStatement.parse(bytes.fromhex(req["js_statement"]))
    js.verify()
    sealed = bytes.fromhex(req["envelope"])
    verified = envelope.verify_entry(
        sealed, author_identity_key=js.identity_key, booklet_id=BOOKLET,
        author_id=js.account_id,
        recipients={js.account_id: js.encryption_key, me.account_id: me.encryption_public},
    )
    opened = envelope.open_entry(
        sealed, author_identity_key=js.identity_key, author_id=js.account_id,
        booklet_id=BOOKLET, me=me,
    )
    granted = grant.open_grant(
        bytes.fromhex(req["grant"]), granter_identity_key=js.identity_key, me=me
    )
    py_sealed = bytes.fromhex(req["py_envelope"])
    ((entry_hash, content_key),) = granted.values()
    regained = envelope.open_entry_with_key(
        py_sealed, author_identity_key=me.identity_public, author_id=me.account_id,
        booklet_id=BOOKLET, entry_id=envelope.parse_envelope(py_sealed).header.entry_id,
        content_key=content_key, expected_hash=entry_hash,
    )
    return {
        "plaintext": opened.plaintext.hex(),
        "entry_hash": verified.entry_hash.hex(),
        "granted_plaintext": regained.plaintext.hex(),
    }


def main() -> None:
    req = json.load(sys.stdin)
    handler = {"seal": _seal, "open": _open}[req["command"]]
    json.dump(handler(req), sys.stdout)


if __name__ == "__main__":
    main()
