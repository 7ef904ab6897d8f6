"""What every service reaches: the database, the vault that seals contact data, time and
randomness. Each service's dependencies extend it with their own settings."""

from __future__ import annotations

from dataclasses import dataclass

from secure_msg.clock import Clock
from secure_msg.crypto.rng import Rng
from secure_msg.crypto.vault import Vault
from secure_msg.storage.db import Database


@dataclass(frozen=True)
class Core:
    db: Database
    vault: Vault
    clock: Clock
    rng: Rng
