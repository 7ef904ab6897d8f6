"""Appointments and therapy periods take dates from 2000-01-01 to 2100-12-31 only (issue 14,
defect 9: year 0001 and 9999, and a period ending 9999-12-31, were accepted)."""

from __future__ import annotations

from typing import Any

from secure_msg.web.services import SERVICES

from .conftest import World


async def _audit_count(world: World) -> int:
    def read(conn: Any) -> int:
        return int(conn.execute("SELECT count(*) FROM audit_events").fetchone()[0])

    return await world.http.app[SERVICES].db.read(read)


async def test_times_and_dates_outside_2000_to_2100_are_422_naming_the_field(
    world: World,
) -> None:
    """Far dates are 422 validation-failed naming the field, and nothing is stored or audited;
    the first and last allowed days are accepted."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    token = therapist.profile.token
    base = f"/api/booklets/{booklet}"
    period = {"start": "2026-01-01", "end": "2026-06-30", "sessions_granted": 10,
              "payer": "kela"}
    refused = [
        ("appointments", {"start": "0001-01-01T10:00:00+02:00", "duration_minutes": 45}, "start"),
        ("appointments", {"start": "9999-12-31T10:00:00-05:00", "duration_minutes": 45}, "start"),
        ("appointments", {"start": "1999-12-31T23:59:00+00:00", "duration_minutes": 45}, "start"),
        ("period", {**period, "end": "9999-12-31"}, "end"),
        ("period", {**period, "start": "0001-01-01"}, "start"),
        ("period", {**period, "end": "2101-01-01"}, "end"),
    ]
    audited = await _audit_count(world)
    for path, body, field in refused:
        status, problem = await world.raw("POST", f"{base}/{path}", token, json=body)
        assert (status, problem.get("type")) == (422, "validation-failed"), (body, problem)
        assert problem["errors"] == [{"field": field, "problem":
                                      "a date from 2000-01-01 to 2100-12-31"}]
    _, listing = await world.raw("GET", f"{base}/appointments", token)
    assert listing["appointments"] == []
    assert listing["period"] is None
    assert await _audit_count(world) == audited
    for start in ("2000-01-01T08:00:00+00:00", "2100-12-31T08:00:00+02:00"):
        status, _ = await world.raw("POST", f"{base}/appointments", token,
                                    json={"start": start, "duration_minutes": 45})
        assert status == 201
    status, _ = await world.raw("POST", f"{base}/period", token,
                                json={**period, "start": "2000-01-01", "end": "2100-12-31"})
    assert status == 201
