"""Schemathesis hooks for the API fuzz run (loaded with SCHEMATHESIS_HOOKS=this file).

They give the fuzzer the therapist's real bearer session and, for most cases, real ids in place
of the generated ones, so that handlers run past their 401/404: the ids come from the world
that tests/fuzz/world.py made (a JSON file named by SECURE_MSG_FUZZ_WORLD). Real and generated
values take turns by a count per operation, not by a random source, so that a run with one
worker and a fixed seed sends the same requests every time.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis import Case, GenerationMode, HookContext
from schemathesis.auths import AuthContext
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import TestPhase

WORLD: dict[str, Any] = json.loads(
    Path(os.environ["SECURE_MSG_FUZZ_WORLD"]).read_text(encoding="utf-8"))
LOGOUT = "/api/logout"
# Sessions ended by the logout cases, one each; the main session must outlive the run.
_spare: list[str] = list(WORLD["spare_tokens"])
# A well-formed session token that was never issued (once the spares are used up).
_UNKNOWN_TOKEN = "A" * 43
_KEEP = None  # in a rotation: keep what the fuzzer generated
_rotations: dict[tuple[str, str], Iterator[str | None]] = {}


def _next_value(label: str, name: str, pool: list[str]) -> str | None:
    """The next of pool's values and then the generated one, in turn, per operation and name."""
    rotation = _rotations.get((label, name))
    if rotation is None:
        rotation = _rotations[(label, name)] = itertools.cycle([*pool, _KEEP])
    return next(rotation)


def _keep_generated(case: Case, location: ParameterLocation) -> bool:
    """A stateful step carries ids from earlier responses; a negative component must stay
    invalid (a real id in its place would turn the case into a valid one)."""
    meta = case.meta
    if meta is None:
        return False
    component = meta.components.get(location)
    return meta.phase.name == TestPhase.STATEFUL or (
        component is not None and component.mode == GenerationMode.NEGATIVE)


def _path_pools(case: Case) -> dict[str, list[str]]:
    """Real values per path parameter: some names mean a different thing on some routes."""
    return {**WORLD["path"], **WORLD["route_path"].get(case.operation.path, {})}


@schemathesis.hook
def map_case(context: HookContext, case: Case) -> Case:
    label = case.operation.label
    pools = _path_pools(case)
    keep_path = _keep_generated(case, ParameterLocation.PATH)
    keep_body = _keep_generated(case, ParameterLocation.BODY)
    for name in [] if keep_path else list(case.path_parameters or {}):
        value = _next_value(label, name, pools.get(name, []))
        if value is not None:
            case.path_parameters[name] = value
    if isinstance(case.body, dict) and not keep_body:
        for name, pool in WORLD["body"].items():
            value = _next_value(label, "body." + name, pool) if name in case.body else None
            if value is not None:
                case.body[name] = value
    return case


@schemathesis.auth(refresh_interval=None, retry_on=[])
class Session:
    """The therapist's bearer session; a spare one for each logout, which ends it; a guardian's
    where the route is for guardians only."""

    def get(self, case: Case, context: AuthContext) -> str:
        path = context.operation.path
        if path == LOGOUT:
            return _spare.pop() if _spare else _UNKNOWN_TOKEN
        return str(WORLD["route_tokens"].get(path, WORLD["token"]))

    def set(self, case: Case, data: str, context: AuthContext) -> None:
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
