"""End-to-end protocol v1 (docs/protocol.md): sans-IO, `cryptography` and `pynacl` only."""

from .errors import ProtocolError

__all__ = ["ProtocolError"]
