"""The Python reference client: the same protocol as the browser, used by the CLI and tests."""

from secure_msg.client.client import Client, DecryptedEntry
from secure_msg.client.http import ClientError
from secure_msg.client.profile import Profile

__all__ = ["Client", "ClientError", "DecryptedEntry", "Profile"]
