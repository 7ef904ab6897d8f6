"""The therapist's "text messages to check" list in the inbox (issue 15): a text message the
real server could not send shows up for the therapist in words, linked to its booklet, and a
guardian's inbox has no such section."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from secure_msg.client import Client, Profile
from secure_msg.testing.pytest_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER
from secure_msg.testing.server_process import ServerProcess
from secure_msg.testing.twilio_server import RunningTwilioServer, serve_twilio

from .harness import (
    PARENT_PASSWORD,
    PASSWORD,
    LoopThread,
    World,
    local_link,
    login_in_browser,
)

pytestmark = pytest.mark.slow
PHONE = "+358401234567"
TITLE = "Tarkistettavat tekstiviestit"  # lang-fi.mjs notice_problems_title


@pytest.fixture
def sms_world(server_factory: Callable[..., ServerProcess], bg: LoopThread,
              browser: Browser) -> Iterator[World]:
    """The browser world, its server sending text messages through the local Twilio server,
    which refuses the guardian's number for good (error 21211, as Twilio does an invalid one)."""

    async def start() -> RunningTwilioServer:
        twilio = await serve_twilio("127.0.0.1", 0, account_sid=ACCOUNT_SID,
                                    auth_token=AUTH_TOKEN, callback_delay=0.01)
        twilio.state.faults.apply_json({"kind": "21211", "number": PHONE})
        return twilio

    twilio = bg.run(start())
    server = server_factory(
        extra_toml=(f"[twilio]\naccount_sid = \"{ACCOUNT_SID}\"\n"
                    f"from_number = \"{FROM_NUMBER}\"\napi_base_url = \"{twilio.url}\"\n"),
        env={"SECURE_MSG_TWILIO_AUTH_TOKEN": AUTH_TOKEN})
    w = World(server, bg, browser)
    try:
        w.setup()
        yield w
        w.close()
        assert w.errors == [], w.errors
    finally:
        bg.run(twilio.close())


def enroll_guardian(world: World) -> str:
    """A guardian with a phone number, enrolled by the Python client; returns the account id."""
    issued = world.call(world.t.invite(world.booklet, "guardian", name="Äiti", phone=PHONE))
    assert world.http is not None
    mum = Client(Profile(), world.http)
    world.call(mum.enroll(local_link(world.server, issued["link"]), "aiti", PARENT_PASSWORD))
    [member] = [m for m in world.call(world.t.members(world.booklet)) if m.name == "Äiti"]
    return member.account_id


def problems(world: World) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = world.call(world.t.api.call("GET", "/api/notices/problems"))[
        "notices"]
    return rows


def failed_notice(world: World, member_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """Queue a text message to the guardian through the API, which the outbox sends and Twilio
    refuses. Polls, bounded, until the therapist's list of problems shows it."""
    queued = world.call(world.t.api.call("POST", f"/api/booklets/{world.booklet}/notices", {
        "member_id": member_id, "channel": "sms", "kind": "new_entry_ping"}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = [n for n in problems(world) if n["id"] == queued["id"]]
        if listed:
            return listed[0]
        time.sleep(0.2)
    pytest.fail(f"notice {queued['id']} never reached /api/notices/problems")


def test_therapist_sees_a_failed_text_and_a_guardian_does_not(sms_world: World) -> None:
    world = sms_world
    member_id = enroll_guardian(world)
    notice = failed_notice(world, member_id)
    assert (notice["status"], notice["reason"], notice["error_code"]) == (
        "failed", "invalid-number", 21211), notice
    assert (notice["booklet_id"], notice["recipient_id"]) == (world.booklet, member_id)

    context, page = world.page()
    login_in_browser(page, world.server.base_url, "tiina", PASSWORD)
    section = page.locator("section.notice-problems")
    expect(section.get_by_role("heading", name=TITLE)).to_be_visible()
    item = section.locator("li.notice-problem")
    expect(item).to_have_count(1)
    # notice_status_failed and notice_kind_new_entry_ping, in words, not colour alone
    expect(item).to_contain_text("Ei lähetetty: uuden viestin ilmoitus")
    link = item.get_by_role("link", name="Aino")
    expect(link).to_have_attribute("href", f"#/b/{world.booklet}")
    context.close()

    context, page = world.page()
    login_in_browser(page, world.server.base_url, "aiti")
    expect(page.locator(f"[data-booklet='{world.booklet}']")).to_be_visible()
    page.wait_for_load_state("networkidle")  # the inbox has made every request it will make
    expect(page.locator("section.notice-problems")).to_have_count(0)
    expect(page.get_by_role("heading", name=TITLE)).to_have_count(0)
    context.close()
