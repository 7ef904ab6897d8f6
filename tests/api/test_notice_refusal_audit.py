"""Only the booklet's therapist can have a notice refused and audited (issue 14, defect 9: a
guardian's clinical text on SMS was audited as `notice.refused` before the role check)."""

from __future__ import annotations

from typing import Any

from secure_msg.web.services import SERVICES

from .conftest import World


async def _refusals(world: World) -> list[str]:
    def read(conn: Any) -> list[str]:
        return [row[0] for row in conn.execute(
            "SELECT actor FROM audit_events WHERE action = 'notice.refused'")]

    return await world.http.app[SERVICES].db.read(read)


async def test_a_guardian_is_403_before_any_refusal_is_audited(world: World) -> None:
    """A guardian's clinical or free-text notice is 403 forbidden with no audit row; the same
    request from the therapist is 422 and audited once."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    guardian = await world.family(therapist, booklet, "aiti")
    path = f"/api/booklets/{booklet}/notices"
    for body in ({"content": "clinical"}, {"text": "Aino harjoitteli"}):
        request = {"member_id": therapist.profile.account_id, "channel": "sms", **body}
        status, problem = await world.raw("POST", path, guardian.profile.token, json=request)
        assert (status, problem["type"]) == (403, "forbidden"), problem
    assert await _refusals(world) == []
    request = {"member_id": guardian.profile.account_id, "channel": "sms", "content": "clinical"}
    status, problem = await world.raw("POST", path, therapist.profile.token, json=request)
    assert (status, problem["type"]) == (422, "clinical-content-refused")
    assert await _refusals(world) == [f"account:{therapist.profile.account_id}"]
