"""Lifecycles as transition tables: each status maps to the statuses it may become.

model/appointments.py and model/notices.py each hold one table beside their status enum. The
storage layer derives the prior statuses an UPDATE may move a row from (`sources`), so the SQL
cannot allow a move that the table does not. docs/architecture.md draws both tables, and
tests/model/test_lifecycle_docs.py keeps the drawings equal to them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TypeVar

S = TypeVar("S", bound=enum.Enum)


def sources(table: Mapping[S, frozenset[S]], new: S) -> frozenset[S]:
    """The statuses that may become `new`."""
    return frozenset(old for old, targets in table.items() if new in targets)


def edges(table: Mapping[S, frozenset[S]]) -> frozenset[tuple[S, S]]:
    """Every allowed move as (old, new)."""
    return frozenset((old, new) for old, targets in table.items() for new in targets)
