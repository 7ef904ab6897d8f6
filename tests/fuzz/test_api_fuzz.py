"""The whole OpenAPI document fuzzed against the real server, with a real session (issue 14).

Schemathesis (its CLI, in a subprocess) loads /api/openapi.json from a server started as in
production, on an ephemeral port, with SMS through the local Twilio server; tests/fuzz/world.py
first makes a practice there through the Python client (a therapist, a booklet with entries,
appointments and a period, family members, pending invitations) and tests/fuzz/hooks.py hands
the fuzzer that session and those ids. Every response must be: no 5xx, a status the document
lists for the operation, a body that validates against its schema, the documented content type;
and the server must log no ERROR meanwhile.

Bounded for `make test` (runner.py): 150 cases per operation and phase, one worker, a fixed
seed, so CI sends the same requests every run. Locally, to look further:

    SECURE_MSG_FUZZ_EXAMPLES=1000 SECURE_MSG_FUZZ_SEED=7 pytest -m fuzz -s
    SECURE_MSG_FUZZ_SECONDS=1800 pytest -m fuzz -s   # fuzz until half an hour is spent
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from secure_msg.testing.server_process import ServerProcess
from secure_msg.testing.twilio_server import RunningTwilioServer

from .runner import EXAMPLES, SEED, FuzzRun, run_schemathesis
from .world import World, build_world, start_practice, start_twilio

pytestmark = [pytest.mark.slow, pytest.mark.fuzz]

# Routes that must have answered 2xx during the run: proof that the session and the real ids
# reached the handlers (a fuzzer that only saw 401s and 404s would pass everything else).
MUST_SUCCEED = {
    ("GET", "/api/me"), ("GET", "/api/booklets/{booklet_id}/entries"),
    ("GET", "/api/booklets/{booklet_id}/appointments"), ("POST", "/api/logout"),
    ("POST", "/api/booklets/{booklet_id}/appointments/{appointment_id}/cancel"),
    ("DELETE", "/api/booklets/{booklet_id}/members/{account_id}"),
    ("GET", "/api/enroll/{token}"), ("POST", "/api/invitations/{token}/accept"),
    ("POST", "/api/booklets/{booklet_id}/close"),
}


@pytest.fixture
async def twilio() -> AsyncIterator[RunningTwilioServer]:
    server = await start_twilio()
    yield server
    await server.close()


def log_records(server: ServerProcess) -> list[dict[str, Any]]:
    """The server's JSON log, whole lines only (the server may be writing one now)."""
    lines = server.log_path.read_text(encoding="utf-8").split("\n")[:-1]
    return [json.loads(line) for line in lines if line.startswith("{")]


def answered(records: list[dict[str, Any]]) -> Counter[tuple[str, str, int]]:
    """(method, route template, status) of every request the server logged."""
    return Counter((r["method"], r["route"], r["status"]) for r in records
                   if r.get("event") == "request")


def _findings(run: FuzzRun) -> str:
    groups = [f"{g['title']} ({g['count']}×): {', '.join(g['operations'])}"
              for g in run.report["failures"]]
    details = run.output[run.output.find("FAILURES"):] if "FAILURES" in run.output else ""
    return "\n".join(groups) + "\n\n" + details[-20_000:]


async def _session_alive(http: aiohttp.ClientSession, world: World) -> int:
    async with http.get(world.base_url + "/api/me",
                        headers={"Authorization": f"Bearer {world.token}"}) as response:
        return response.status


async def test_the_whole_api_holds_under_fuzzing(
    server_factory: Callable[..., ServerProcess], twilio: RunningTwilioServer, tmp_path: Path,
) -> None:
    server = start_practice(server_factory, twilio)
    async with aiohttp.ClientSession() as http:
        world = await build_world(server, http)
        set_up = len(log_records(server))
        run = await run_schemathesis(server.base_url, world.save(tmp_path / "world.json"),
                                     tmp_path)
        assert await _session_alive(http, world) == 200, "the fuzzer ended the main session"
    records = log_records(server)
    statuses = answered(records[set_up:])
    print(f"\nfuzz: {run.report['test_cases']['generated']} cases, {run.seconds:.0f} s, "
          f"seed {SEED}, {EXAMPLES} examples; statuses "
          f"{sorted(Counter(s for _, _, s in statuses.elements()).items())}")

    assert run.report["failures"] == [], _findings(run)
    assert run.report["errors"] == [], run.output[-5000:]
    assert run.report["complete"], run.output[-5000:]
    assert run.report["exit_code"] == 0, run.output[-5000:]
    operations = run.report["operations"]
    assert operations["tested"] == operations["selected"], operations
    assert operations["errored"] == 0, operations
    errors = [r for r in records if r.get("level") in ("ERROR", "CRITICAL")]
    assert errors == [], [(r.get("logger"), r.get("event"), r.get("route")) for r in errors]
    succeeded = {(m, route) for m, route, status in statuses if 200 <= status < 300}
    assert succeeded >= MUST_SUCCEED, f"never reached: {sorted(MUST_SUCCEED - succeeded)}"
