"""The product's spine end to end: a therapist, two households and a daycare worker share a
booklet through the real server, and the server never holds a clinical word in the clear."""

from __future__ import annotations

import json

import pytest

from secure_msg.client import ClientError

from .conftest import People, admin_invite, scan_files

pytestmark = pytest.mark.slow
TITLE_CANARY = "CANARY-TITLE-Aino-7f3a"
NOTE_CANARY = "CANARY-NOTE-saksilla-91c2"
HOMEWORK_CANARY = "CANARY-HOMEWORK-pyoraily-5d10"
LOG_CANARY = "CANARY-LOG-meni-hyvin-ae44"
CARE_CANARY = "CANARY-DAYCARE-2b7e"
LATE_CANARY = "CANARY-AFTER-REMOVAL-c0de"


async def test_family_booklet_end_to_end(people: People) -> None:
    """Every member reads every kind of entry both ways; canaries never reach the server in
    the clear; a removed guardian gets nothing new; a newcomer reads history only by grant."""
    therapist = await people.enroll("terapeutti", admin_invite(people.server, "Tiina T"))
    booklet = await therapist.create_booklet(TITLE_CANARY)
    mum = await people.enroll("aiti", people.link(
        await therapist.invite(booklet, "guardian", name="Äiti", phone="+358401234567")))
    dad = await people.enroll("isa", people.link(
        await therapist.invite(booklet, "guardian", name="Isä")))
    daycare = await people.enroll("paivakoti", people.link(await therapist.invite(
        booklet, "caregiver", name="Päiväkoti", until="2099-12-31", scope="new")))
    for guardian in (mum, dad):  # a caregiver is a member once every guardian approves
        await guardian.consent(booklet, daycare.profile.account_id, "approve")

    for member in (mum, dad, daycare):  # the title was sealed before they joined
        assert await therapist.grant_history(booklet, member.profile.account_id, {"title"}) == 1
    await therapist.post(booklet, "note", text=NOTE_CANARY)
    hw = await therapist.post(booklet, "homework", task=HOMEWORK_CANARY, frequency="daily")
    await mum.post(booklet, "homework-log", homework=hw["entry_id"], done=True, how=LOG_CANARY,
                   date="2026-11-27")
    await daycare.post(booklet, "note", text=CARE_CANARY)

    expected = [TITLE_CANARY, NOTE_CANARY, HOMEWORK_CANARY, LOG_CANARY, CARE_CANARY]
    for member in (therapist, mum, dad, daycare):
        entries = await member.read(booklet)
        texts = [json.dumps(e.payload, ensure_ascii=False) for e in entries]
        assert [any(c in t for t in texts) for c in expected] == [True] * 5
        assert [e.kind for e in entries] == ["title", "note", "homework", "homework-log", "note"]
    assert [b["title"] for b in await dad.booklets()] == [TITLE_CANARY]

    # Removal: dad is out; later entries are not wrapped to him and he cannot read or list.
    await therapist.remove(booklet, dad.profile.account_id)
    await therapist.post(booklet, "note", text=LATE_CANARY)
    with pytest.raises(ClientError) as err:
        await dad.read(booklet)
    assert err.value.status == 404
    assert await dad.booklets() == []
    # Whatever a non-member asks for, no answer carries anything of the booklet.
    answers = []
    for path in ("entries", "members?all=1", "head", "receipts", "grants"):
        async with people.http.get(f"{people.server.base_url}/api/booklets/{booklet}/{path}",
                                   headers={"Authorization": f"Bearer {dad.profile.token}"}) as r:
            answers.append((r.status, await r.text()))
    assert {status for status, _ in answers} == {404}
    assert not [c for c in [*expected, "Äiti"] for _, body in answers if c in body]

    # A newcomer (grandmother as caregiver) with a plain link sees only what is granted.
    granny = await people.enroll("mummo", people.link(await therapist.invite(
        booklet, "caregiver", name="Mummo", via=None, until="2099-12-31", scope="history")))
    await mum.consent(booklet, granny.profile.account_id, "approve")
    assert await granny.read(booklet) == []
    granted = await therapist.grant_history(booklet, granny.profile.account_id)
    assert granted == 6
    granny_texts = json.dumps([e.payload for e in await granny.read(booklet)], ensure_ascii=False)
    assert all(c in granny_texts for c in [*expected, LATE_CANARY])

    # Nothing clinical in the clear anywhere the server writes.
    people.server.stop()
    leaks = scan_files([*people.server.db_files(), people.server.log_path,
                        *people.server.workdir.glob("stdout-*.txt")],
                       [*expected, LATE_CANARY, "Äiti", "+358401234567"])
    assert leaks == []
