"""The Schemathesis run the fuzz tests share: its CLI in a subprocess, bounded and seeded.

Its own process, so that the test's event loop keeps serving (the local Twilio server, a planted
app); the JSON report is the verdict, the CLI's text the details of any failure. The bounds
come from SECURE_MSG_FUZZ_EXAMPLES, SECURE_MSG_FUZZ_SEED and SECURE_MSG_FUZZ_SECONDS.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXAMPLES = int(os.environ.get("SECURE_MSG_FUZZ_EXAMPLES") or 150)  # per operation and phase
SEED = int(os.environ.get("SECURE_MSG_FUZZ_SEED") or 14)
SECONDS = int(os.environ.get("SECURE_MSG_FUZZ_SECONDS") or 0)  # 0: no budget, EXAMPLES rules
# A run that hangs fails instead of holding CI: ~1 s per example is what a loaded machine takes.
HARD_LIMIT = max(SECONDS * 2, EXAMPLES * 4, 600)
CHECKS = ("not_a_server_error", "status_code_conformance", "response_schema_conformance",
          "content_type_conformance")
# Every operation is fuzzed. The WebSocket too, though all the fuzzer can send it is a plain
# GET, a failed upgrade (400, as documented); tests/api/test_live_and_receipts.py and the
# browser tests speak its protocol. The Twilio webhooks get forms the fuzzer cannot sign: 4xx.
HOOKS = Path(__file__).with_name("hooks.py")


@dataclass
class FuzzRun:
    report: dict[str, Any]
    output: str
    seconds: float


def _arguments(base_url: str, report_dir: Path) -> list[str]:
    budget = ["--max-time", str(SECONDS)] if SECONDS else []
    return [
        "run", base_url + "/api/openapi.json", "--checks", ",".join(CHECKS),
        "--max-examples", str(EXAMPLES), "--seed", str(SEED), *budget, "--workers", "1",
        "--request-timeout", "10", "--report", "json",
        "--report-json-path", str(report_dir / "report.json"), "--no-color",
    ]


async def run_schemathesis(base_url: str, world_file: Path, workdir: Path) -> FuzzRun:
    """Run the CLI against base_url's /api/openapi.json with the hooks and this world."""
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS), "SECURE_MSG_FUZZ_WORLD": str(world_file)}
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "schemathesis.cli", *_arguments(base_url, workdir),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL, env=env,
        cwd=workdir,  # so that no schemathesis.toml from elsewhere applies
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), HARD_LIMIT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    text = output.decode("utf-8", "replace")
    report_file = workdir / "report.json"
    assert report_file.exists(), f"Schemathesis wrote no report:\n{text[-5000:]}"
    report = json.loads(report_file.read_text(encoding="utf-8"))
    return FuzzRun(report, text, time.monotonic() - started)
