"""The consent step in the web inbox (docs/protocol.md §5.1): a guardian sees the caregiver's
request with its end date, approves it in Chromium (signed by the browser's key), and the
caregiver becomes a member; the caregiver's own inbox says it waits for the guardians."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from secure_msg.client import Client, Profile

from .harness import PARENT_PASSWORD, World, enroll_in_browser, open_booklet

pytestmark = pytest.mark.slow


def test_a_guardian_approves_a_caregiver_in_the_browser(world: World) -> None:
    context, page = world.page()
    enroll_in_browser(page, world.invite("Äiti"), "aiti")
    issued = world.call(world.t.invite(world.booklet, "caregiver", name="Päiväkoti",
                                       until="2099-03-31", scope="new"))
    daycare = Client(Profile(), world.http)  # type: ignore[arg-type]
    world.call(daycare.enroll(world.server.base_url + issued["link"][
        issued["link"].index("/enroll/"):], "paivakoti", PARENT_PASSWORD))

    open_booklet(page, world.booklet)
    request = page.locator(f".consent-row[data-caregiver='{daycare.profile.account_id}']")
    expect(request).to_contain_text(
        "Päiväkoti pyytää päästä mukaan päiväkodin tai koulun työntekijänä 31.3.2099 asti "
        "(vain uudet viestit).")
    request.get_by_role("button", name="Hyväksy").click()
    expect(request).to_have_attribute("data-status", "active")
    expect(request).to_contain_text("on mukana päiväkodin tai koulun työntekijänä 31.3.2099")
    expect(request.get_by_role("button", name="Hylkää tai peru")).to_be_visible()
    members = {m.account_id for m in world.call(world.t.members(world.booklet))}
    assert daycare.profile.account_id in members
    [row] = world.call(world.t.caregivers(world.booklet))
    assert [(c["action"], c["guardian_id"]) for c in row["consents"]] == [
        ("approve", next(m.account_id for m in world.call(world.t.members(world.booklet))
                         if m.name == "Äiti"))]
    context.close()


def test_a_caregiver_waiting_for_consent_is_told_so(world: World) -> None:
    world.call(Client(Profile(), world.http).enroll(  # type: ignore[arg-type]
        world.invite("Äiti"), "aiti", PARENT_PASSWORD))
    context, page = world.page()
    enroll_in_browser(page, world.invite("Päiväkoti", role="caregiver"), "paivakoti")
    page.evaluate(f"() => {{ location.hash = '#/b/{world.booklet}'; }}")
    expect(page.get_by_role("alert")).to_contain_text(
        "Lapsen jokaisen huoltajan on hyväksyttävä sinut ennen kuin voit lukea tätä vihkoa.")
    expect(page.get_by_label("Kirjoita viesti")).to_have_count(0)
    context.close()
    expected = "console: Failed to load resource: the server responded with a status of 403"
    assert any(e.startswith(expected) for e in world.errors), world.errors  # that refusal
    world.errors[:] = [e for e in world.errors if not e.startswith(expected)]
