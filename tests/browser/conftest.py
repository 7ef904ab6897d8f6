"""Browser-test fixtures: one Chromium per session, one world (server + therapist) per test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from secure_msg.testing.server_process import ServerProcess

from .harness import CHROMIUM, LoopThread, World, launch

pytestmark = pytest.mark.slow


# Module scope, not session: Playwright's sync API keeps an event loop running in the main
# thread while it is open, and every asyncio test collected after the browser tests would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (make test does)")
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def bg() -> Iterator[LoopThread]:
    loop = LoopThread()
    yield loop
    loop.close()


@pytest.fixture
def world(server_factory: Callable[..., ServerProcess], bg: LoopThread,
          browser: Browser) -> Iterator[World]:
    """A fresh server with a therapist and a booklet titled "Aino"; page errors fail the test."""
    w = World(server_factory(), bg, browser)
    w.setup()
    yield w
    w.close()
    assert w.errors == [], w.errors
