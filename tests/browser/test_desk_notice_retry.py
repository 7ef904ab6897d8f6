"""Sending a failed text message again from the therapist's list (issue 16): the Twilio server
refused the guardian's number; once it accepts again, "Send again" queues a new attempt that
reaches it, and the line says so. An invitation has no such button (its link is not kept)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, expect

from secure_msg.testing.pytest_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER
from secure_msg.testing.server_process import ServerProcess
from secure_msg.testing.twilio_server import RunningTwilioServer, serve_twilio

from .harness import PASSWORD, LoopThread, World, login_in_browser
from .test_notice_problems import PHONE, enroll_guardian, failed_notice

pytestmark = pytest.mark.slow
HELSINKI = ZoneInfo("Europe/Helsinki")


@contextmanager
def _refusing(server_factory: Callable[..., ServerProcess], bg: LoopThread, browser: Browser,
              quiet: tuple[str, str]) -> Iterator[tuple[World, RunningTwilioServer]]:
    async def start() -> RunningTwilioServer:
        twilio = await serve_twilio("127.0.0.1", 0, account_sid=ACCOUNT_SID,
                                    auth_token=AUTH_TOKEN, callback_delay=0.01)
        twilio.state.faults.apply_json({"kind": "21211", "number": PHONE})
        return twilio

    twilio = bg.run(start())
    server = server_factory(
        extra_toml=(f"[twilio]\naccount_sid = \"{ACCOUNT_SID}\"\n"
                    f"from_number = \"{FROM_NUMBER}\"\napi_base_url = \"{twilio.url}\"\n"
                    f"[notices]\nquiet_hours_start = \"{quiet[0]}\"\n"
                    f"quiet_hours_end = \"{quiet[1]}\"\n"),
        env={"SECURE_MSG_TWILIO_AUTH_TOKEN": AUTH_TOKEN})
    w = World(server, bg, browser)
    try:
        w.setup()
        yield w, twilio
        w.close()
        assert w.errors == [], w.errors
    finally:
        bg.run(twilio.close())


@pytest.fixture
def refusing(server_factory: Callable[..., ServerProcess], bg: LoopThread,
             browser: Browser) -> Iterator[tuple[World, RunningTwilioServer]]:
    # No quiet hours: the new attempt of a new-entry ping waits them out (as any such notice
    # does), so run at night the test would wait until 08:00.
    with _refusing(server_factory, bg, browser, ("00:00", "00:00")) as running:
        yield running


def _quiet_now() -> tuple[str, str, int]:
    """Quiet hours from the last full hour before now to two hours after it, in Helsinki, so
    now is always inside them; and when they end (ms)."""
    now = datetime.now(HELSINKI)
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    end = start + timedelta(hours=3)
    return f"{start:%H:%M}", f"{end:%H:%M}", int(end.timestamp() * 1000)


def test_therapist_sends_a_failed_text_again(refusing: tuple[World, RunningTwilioServer]
                                             ) -> None:
    world, twilio = refusing
    member = enroll_guardian(world)
    notice = failed_notice(world, member)
    assert list(twilio.state.messages.values()) == []  # refused: nothing was created
    twilio.state.faults.clear()  # the number works again

    context, page = world.page()
    login_in_browser(page, world.server.base_url, "tiina", PASSWORD)
    item = page.locator("section.notice-problems li.notice-problem")
    expect(item).to_have_count(1)
    button = item.get_by_role("button", name="Lähetä uudelleen: Ei lähetetty: uuden viestin "
                                             "ilmoitus", exact=False)
    button.click()
    expect(item.get_by_role("status")).to_have_text("Lähetetään uudelleen.")
    expect(button).to_have_count(0)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not [
            m for m in list(twilio.state.messages.values()) if m.to == PHONE]:
        time.sleep(0.2)
    assert [m.to for m in twilio.state.messages.values()] == [PHONE]
    rows = world.call(world.t.api.call("GET", f"/api/booklets/{world.booklet}/notices"))[
        "notices"]
    assert [n["status"] for n in rows if n["id"] == notice["id"]] == ["failed"]
    assert len(rows) == 2
    page.reload()
    page.get_by_role("heading", name="Vihkot").wait_for()
    page.wait_for_load_state("networkidle")
    expect(page.locator("section.notice-problems li.notice-problem")).to_have_count(0)
    context.close()


def test_a_text_sent_again_in_quiet_hours_says_when_it_goes(
        server_factory: Callable[..., ServerProcess], bg: LoopThread, browser: Browser) -> None:
    """Asked for in quiet hours, the new attempt of a new-entry ping waits for their end: the
    line says at what time (in the browser's own zone), and nothing reaches Twilio before."""
    start, end, end_ms = _quiet_now()
    with _refusing(server_factory, bg, browser, (start, end)) as (world, twilio):
        notice = failed_notice(world, enroll_guardian(world))  # by hand: sent at once, refused
        assert notice["status"] == "failed"
        twilio.state.faults.clear()

        context, page = world.page()
        login_in_browser(page, world.server.base_url, "tiina", PASSWORD)
        item = page.locator("section.notice-problems li.notice-problem")
        item.get_by_role("button", name="Lähetä uudelleen", exact=False).click()
        note = item.get_by_role("status")
        expect(note).to_contain_text("kun hiljainen aika päättyy")
        zone = ZoneInfo(page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone"))
        local = datetime.fromtimestamp(end_ms / 1000, zone)
        said = note.inner_text()
        assert re.fullmatch(rf"Lähetetään uudelleen {local.day}\.{local.month}\. klo "
                            rf"{local:%H}\.{local:%M}, kun hiljainen aika päättyy\.", said), said
        time.sleep(1.5)  # the outbox polls every 0.1 s: it would have sent by now
        assert [m for m in twilio.state.messages.values() if m.to == PHONE] == []
        context.close()
