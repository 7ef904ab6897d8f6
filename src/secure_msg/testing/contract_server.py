"""`secure-msg serve` with the API contract checked on every answer, for tests on a real server.

    python -m secure_msg.testing.contract_server --config PATH

The app is the production app (with the test clock when SECURE_MSG_TEST_CLOCK_FILE is set, as
`serve` does) plus secure_msg.testing.contract's middleware; each departure from
/api/openapi.json is appended at once, one line each, to the file SECURE_MSG_CONTRACT_LOG names
(so a kill -9 loses none). Never mounted in production: it lives in its own entry point.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from secure_msg.config import load_config
from secure_msg.logging import configure_logging
from secure_msg.testing import clock as test_clock
from secure_msg.testing.contract import Contract
from secure_msg.web.app import create_app
from secure_msg.web.server import serve

LOG_ENV = "SECURE_MSG_CONTRACT_LOG"
CONTRACT_SERVER = ("secure_msg.testing.contract_server",)  # ServerProcess module_args


def violations(log: Path) -> list[str]:
    """What the server wrote to `log`, one departure a line (none if it wrote nothing)."""
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


def main() -> None:
    parser = argparse.ArgumentParser(prog="contract_server")
    parser.add_argument("--config", type=Path, required=True)
    args = parser.parse_args()
    config = load_config(args.config)
    configure_logging(config.logging.level)
    log = Path(os.environ[LOG_ENV])
    app = create_app(config, clock=test_clock.from_environment())

    def record(violation: str) -> None:
        with log.open("a", encoding="utf-8") as out:
            out.write(violation.replace("\n", " ") + "\n")

    Contract.install(app, sink=record)

    def on_listening(port: int) -> None:
        print(f"secure-msg: listening on http://{config.server.host}:{port}", flush=True)

    asyncio.run(serve(app, config.server.host, config.server.port, on_listening))


if __name__ == "__main__":
    main()
