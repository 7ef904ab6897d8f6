"""Fixtures for the protocol tests: the project's vectors and the vendored standard vectors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# RFC 9180 and Wycheproof files, vendored with their licences (see SOURCES.md there).
STANDARD_VECTORS = ROOT / "tests" / "vectors" / "standard"
PROJECT_VECTORS = ROOT / "tests" / "vectors" / "protocol-v1.json"


def _load_standard(name: str) -> Any:
    path = STANDARD_VECTORS / name
    if not path.exists():  # they are part of the repository: a missing one is a broken checkout
        pytest.fail(f"standard vectors missing: {path}")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def standard() -> Callable[[str], Any]:
    """Loads a file of tests/vectors/standard (RFC 9180, Wycheproof)."""
    return _load_standard


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    return json.loads(PROJECT_VECTORS.read_text(encoding="utf-8"))
