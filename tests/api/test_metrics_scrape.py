"""/metrics of the whole app, scraped after real requests and read with prometheus_client's
own text parser: it parses, keeps today's metric names, and its labels are route templates,
a known method and the status, never an id, a raw path or anything a client invented."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from secure_msg.web.metrics import Metrics

from .conftest import World

CANARY = "CANARY-path-5e1f"


async def _scrape(world: World) -> tuple[str, dict[str, list[Sample]]]:
    status, text = await world.raw("GET", "/metrics")
    assert status == 200
    families = {f.name: f.samples for f in text_string_to_metric_families(text)}
    return text, families


async def test_labels_are_route_templates_never_ids_or_invented_values(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    await therapist.post(booklet, "note", text="hei")
    token = therapist.profile.token
    assert (await world.raw("GET", f"/api/booklets/{booklet}/entries", token))[0] == 200
    assert (await world.raw("GET", f"/{CANARY}/{booklet}"))[0] == 404
    for invented in ("PROPFIND", "PURGE"):  # methods the HTTP parser takes, no route has
        await world.raw(invented, "/healthz")
        await world.raw(invented, f"/api/booklets/{booklet}/entries", token)

    text, families = await _scrape(world)
    assert booklet not in text
    assert therapist.profile.account_id not in text
    assert CANARY not in text
    assert "PROPFIND" not in text

    templates = {r.canonical for r in world.http.app.router.resources()} | {"unmatched"}
    requests = families["secure_msg_http_requests"]
    assert {s.labels["route"] for s in requests} <= templates
    # PUT: the therapist's client stores the booklet's signed roster (protocol §6.6)
    assert {s.labels["method"] for s in requests} <= {"GET", "POST", "PUT", "other"}
    assert all(s.labels["status"].isdigit() and len(s.labels["status"]) == 3 for s in requests)
    assert all(set(s.labels) == {"route", "method", "status"} for s in requests)

    entries = "/api/booklets/{booklet_id}/entries"
    counted = {(s.labels["route"], s.labels["method"], s.labels["status"]): s.value
               for s in requests}
    assert counted[(entries, "GET", "200")] == 1
    assert counted[(entries, "POST", "201")] == 2  # the title, then the note
    assert counted[("unmatched", "GET", "404")] == 1
    assert sum(v for (r, m, _), v in counted.items() if m == "other") == 4

    latency = families["secure_msg_http_request_duration_seconds"]
    assert {s.labels["route"] for s in latency} <= templates
    assert all(set(s.labels) <= {"route", "le"} for s in latency)
    # The writer's gauges, registered by web/services.py, read at scrape time.
    assert families["secure_msg_db_commits_total"][0].value > 0
    assert families["secure_msg_db_write_jobs_total"][0].value > 0


async def test_two_apps_in_one_process_count_apart() -> None:
    """Each app has its own registry (the library's global one would refuse the second)."""
    one, two = Metrics(), Metrics()
    one.observe_request("/healthz", "GET", 200, 0.001)
    assert 'route="/healthz"' in one.render()
    assert 'route="/healthz"' not in two.render()


async def test_the_outbox_figures_are_read_at_each_scrape(world: World) -> None:
    """Notices by status (every status, zeros too), failed ones by reason, the age of the
    oldest due notice not yet handed over, and the worker's counters (no Twilio here, so
    nothing is sent and they stay at zero); labels are fixed vocabularies, never ids."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    await world.family(therapist, booklet, "mum")
    await therapist.invite(booklet, "guardian", name="dad", phone="+358401113333", send=["sms"])
    _, families = await _scrape(world)
    notices = {s.labels["status"]: s.value for s in families["secure_msg_outbox_notices"]}
    assert notices["queued"] == 1
    assert set(notices) >= {"queued", "sending", "ambiguous", "sent", "reconciled",
                            "duplicate_suspected", "delivered", "undelivered", "failed",
                            "skipped", "expired"}
    assert sum(notices.values()) == 1
    assert families["secure_msg_outbox_oldest_due_age_seconds"][0].value == 0
    for name in ("attempts", "reconciliations", "status_polls"):
        assert families[f"secure_msg_outbox_{name}"] == []  # counters with no samples yet
    assert families["secure_msg_outbox_duplicates_suspected"][0].value == 0

    # Due 90 s ago (the invitation waits out the night: it is not due yet above).
    await world.server_sql("UPDATE notices SET status = 'ambiguous', not_before_ms = ?",
                           world.clock.now_ms() - 90_000)
    text, families = await _scrape(world)
    assert families["secure_msg_outbox_oldest_due_age_seconds"][0].value == 90
    await world.server_sql("UPDATE notices SET status = 'failed', reason = 'invalid-number'")
    text, families = await _scrape(world)
    failed = families["secure_msg_outbox_failed_notices"]
    assert [(s.labels, s.value) for s in failed] == [({"reason": "invalid-number"}, 1)]
    assert families["secure_msg_outbox_oldest_due_age_seconds"][0].value == 0
    assert booklet not in text
    assert "+358" not in text
