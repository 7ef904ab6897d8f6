"""Unpadded base64url, the API's one text form for bytes (docs/protocol.md §2).

Its own module because both the web layer and the stored entry texts (model/entry_json.py)
write it, and a page of entries calls it a hundred times: binascii directly, no base64 module.
"""

from __future__ import annotations

import binascii

_URLSAFE = bytes.maketrans(b"+/", b"-_")


def encode(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode()
