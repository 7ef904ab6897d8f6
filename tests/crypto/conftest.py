"""Shared fixtures for the protocol tests: the project's vectors and the shared standard vectors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED_VECTORS = ROOT.parent / "shared" / "vectors"
PROJECT_VECTORS = ROOT / "tests" / "vectors" / "protocol-v1.json"


def _load_shared(name: str) -> Any:
    path = SHARED_VECTORS / name
    if not path.exists():  # CI lays shared/ beside the clone; its absence is a setup error
        pytest.fail(f"standard vectors missing: {path}")
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def shared() -> Callable[[str], Any]:
    """Loads a file of ../shared/vectors (RFC 9180, Wycheproof)."""
    return _load_shared


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    return json.loads(PROJECT_VECTORS.read_text(encoding="utf-8"))
