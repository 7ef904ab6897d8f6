"""A document shared with the child's doctor (docs/protocol.md §4.8), opened in Chromium: the
therapist shares with the Python client, the code goes out through the local Twilio server, and
the recipient's page (no account) asks for the code, decrypts and offers the file, which is
byte-identical. Wrong codes lock the share; a used, withdrawn or expired share says so; the
guardian's access log shows the share and its open; no secret of it is in the server's
database or log."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from secure_msg.client import Client, Profile
from secure_msg.client.attachments import post_files
from secure_msg.client.shares import MadeShare, create_share
from secure_msg.crypto import share
from secure_msg.model.shares import MAX_FAILURES
from secure_msg.testing.pytest_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER
from secure_msg.testing.server_process import ServerProcess
from secure_msg.testing.twilio_server import RunningTwilioServer, serve_twilio

from .harness import (
    PARENT_PASSWORD,
    LoopThread,
    World,
    enroll_in_browser,
    open_booklet,
    server_sql,
)

pytestmark = pytest.mark.slow
DOCTOR = "+358409876543"


@pytest.fixture
def texting(server_factory: Callable[..., ServerProcess], bg: LoopThread,
            browser: Browser) -> Iterator[tuple[World, RunningTwilioServer]]:
    async def start() -> RunningTwilioServer:
        return await serve_twilio("127.0.0.1", 0, account_sid=ACCOUNT_SID,
                                  auth_token=AUTH_TOKEN, callback_delay=0.01)

    twilio = bg.run(start())
    server = server_factory(
        extra_toml=(f"[twilio]\naccount_sid = \"{ACCOUNT_SID}\"\n"
                    f"from_number = \"{FROM_NUMBER}\"\napi_base_url = \"{twilio.url}\"\n"),
        env={"SECURE_MSG_TWILIO_AUTH_TOKEN": AUTH_TOKEN})
    w = World(server, bg, browser)
    try:
        w.setup()
        yield w, twilio
        w.close()
        # The page's refused opens (a wrong code, a closed share) are answers it shows.
        expected = re.compile(r"console: Failed to load resource: .* status of 4(03|10) ")
        errors = [e for e in w.errors if not expected.match(e)]
        assert errors == [], errors
    finally:
        bg.run(twilio.close())


def code_sent(twilio: RunningTwilioServer, count: int) -> str:
    """The code of the `count`th text to the doctor, as the local Twilio server got it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        bodies = [m.body for m in list(twilio.state.messages.values()) if m.to == DOCTOR]
        if len(bodies) >= count:
            body = bodies[count - 1]
            assert "{" not in body
            found = re.search(r"\b(\d{8})\b", body)
            assert found, body
            return found.group(1)
        time.sleep(0.1)
    raise AssertionError("no text reached the doctor")


def document(world: World, tmp_path: Path, data: bytes) -> int:
    path = tmp_path / "Lausunto lääkärille.pdf"
    path.write_bytes(data)
    return int(world.call(post_files(world.t, world.booklet, [path], text="Lausunto"))["seq"])


def enter(page: Page, code: str) -> None:
    page.get_by_label("Koodi (8 numeroa)").fill(code)
    page.get_by_role("button", name="Avaa").click()


def test_the_doctor_opens_the_document_with_link_and_code(
        texting: tuple[World, RunningTwilioServer], tmp_path: Path) -> None:
    world, twilio = texting
    assert world.http is not None
    mum = Client(Profile(), world.http)
    world.call(mum.enroll(world.invite("Äiti"), "aiti", PARENT_PASSWORD))
    data = bytes(range(256)) * 1200 + b"%%EOF"  # ~300 kB, several chunks
    seq = document(world, tmp_path, data)
    made: MadeShare = world.call(create_share(world.t, world.booklet, seq, DOCTOR))
    code = code_sent(twilio, 1)
    context, page = world.page()
    page.goto(made.link)
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    enter(page, wrong)
    expect(page.get_by_role("status")).to_have_text(
        f"Koodi ei ole oikein. Yrityksiä jäljellä: {MAX_FAILURES - 1}.")
    enter(page, code[:4] + " " + code[4:])  # as an SMS shows it is fine too
    expect(page.get_by_role("status")).to_have_text("Asiakirja on valmis.")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("^Tallenna Lausunto lääkärille.pdf")).click()
    saved = tmp_path / "saved.pdf"
    download.value.save_as(saved)
    assert download.value.suggested_filename == "Lausunto lääkärille.pdf"
    assert saved.read_bytes() == data
    # One-time: the same link again says it was used.
    page.reload()
    enter(page, code)
    expect(page.get_by_role("status")).to_contain_text("Asiakirja on jo avattu")
    expect(page.locator("#code-form")).to_be_hidden()
    context.close()

    log = world.call(mum.api.call("GET", f"/api/booklets/{world.booklet}/access-log"))
    actions = [i["action"] for i in log["items"]]
    assert actions.count("share.created") == 1
    assert actions.count("share.opened") == 1
    assert "share.open_refused" not in actions  # the operator's, not the family's

    # Nothing of the key in the server's database or log; the code only sealed.
    sid, secret = share.parse_fragment(made.link.split("#", 1)[1])
    keys = share.derive(sid, secret, code)
    stored = b"".join(p.read_bytes() for p in world.server.db_files())
    logged = world.server.log_path.read_bytes()
    for value in (secret, keys.key, keys.token):
        for form in (value, value.hex().encode(), base64.urlsafe_b64encode(value).rstrip(b"=")):
            assert form not in stored
            assert form not in logged
    assert code.encode() not in logged


def test_wrong_codes_lock_it_and_closed_shares_say_why(
        texting: tuple[World, RunningTwilioServer], tmp_path: Path) -> None:
    world, twilio = texting
    seq = document(world, tmp_path, b"%PDF-1.4 lyhyt")
    locked = world.call(create_share(world.t, world.booklet, seq, DOCTOR))
    code = code_sent(twilio, 1)
    context, page = world.page()
    page.goto(locked.link)
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    for left in range(MAX_FAILURES - 1, 0, -1):
        enter(page, wrong)
        expect(page.get_by_role("status")).to_have_text(
            f"Koodi ei ole oikein. Yrityksiä jäljellä: {left}.")
    enter(page, wrong)
    expect(page.get_by_role("status")).to_contain_text("liian monta kertaa")
    page.reload()
    enter(page, code)  # the right code no longer opens it
    expect(page.get_by_role("status")).to_contain_text("liian monta kertaa")

    withdrawn = world.call(create_share(world.t, world.booklet, seq, DOCTOR))
    code = code_sent(twilio, 2)
    world.call(world.t.api.call(
        "POST", f"/api/booklets/{world.booklet}/shares/{withdrawn.item['id']}/revoke"))
    page.goto(withdrawn.link)
    enter(page, code)
    expect(page.get_by_role("status")).to_contain_text("perunut jaon")

    expired = world.call(create_share(world.t, world.booklet, seq, DOCTOR))
    code = code_sent(twilio, 3)
    server_sql(world.server, "UPDATE shares SET expires_at_ms = 0 WHERE id = ?",
               bytes.fromhex(expired.item["id"]))
    page.goto(expired.link)
    enter(page, code)
    expect(page.get_by_role("status")).to_contain_text("voimassaolo on päättynyt")

    page.goto(world.server.url("/share/"))  # the link without its fragment
    expect(page.get_by_role("status")).to_contain_text("Linkki on vajaa")
    expect(page.locator("#code-form")).to_be_hidden()
    context.close()


def test_a_guardian_shares_from_the_web_inbox_and_sees_the_open(
        texting: tuple[World, RunningTwilioServer], tmp_path: Path) -> None:
    """The booklet's "Jaettu vihon ulkopuolelle" panel: the guardian picks the file, gives the
    doctor's number and gets the link; the doctor opens it with the texted code; the panel then
    shows the share as opened."""
    world, twilio = texting
    context, page = world.page()
    enroll_in_browser(page, world.invite("Äiti"), "aiti")
    data = b"%PDF-1.4 " + bytes(range(256)) * 100
    document(world, tmp_path, data)
    page.reload()
    open_booklet(page, world.booklet)
    panel = page.locator("details.shares")
    panel.locator("summary").click()
    panel.get_by_label("Vastaanottajan matkapuhelinnumero").fill("040 987 6543")
    panel.get_by_role("button", name="Jaa").click()
    link_box = panel.locator("input.share-link")
    expect(link_box).to_have_value(re.compile(r"/share/#[0-9a-f]{32}\.[A-Za-z0-9_-]{22}$"))
    link = link_box.input_value()
    code = code_sent(twilio, 1)
    doctor_context, doctor = world.page()
    doctor.goto(link)
    enter(doctor, code)
    with doctor.expect_download() as download:
        doctor.get_by_role("link", name=re.compile("^Tallenna")).click()
    saved = tmp_path / "doctor.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes() == data
    doctor_context.close()
    panel.locator("summary").click()  # close and open again: the list is fetched anew
    panel.locator("summary").click()
    expect(panel.locator("li.share-item[data-state='used']")).to_contain_text("avattu 1/1")
    context.close()
