"""Bodies and queries are checked by the types the document is made from (web/request_types.py):
the bounds the document states are the ones the API enforces, and each refusal is 422 naming
the field, in the words the API has always used."""

from __future__ import annotations

from typing import Any

from .conftest import World

KEY = "A" * 43  # base64url of 32 zero bytes


async def test_a_query_parameter_outside_its_type_is_422_naming_it(world: World) -> None:
    """Unicode digits (int() refused them with a 500), a sign, a letter, a value past a bound:
    422 validation-failed naming the parameter; a bad token is still 401 first."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    token = therapist.profile.token
    path = f"/api/booklets/{booklet}/entries"
    for query, field in [("since=²", "since"), ("since=١٢", "since"), ("since=-1", "since"),
                         ("before=x", "before"), ("before=0", "before"), ("limit=201", "limit"),
                         ("since=1234567890123456789", "since")]:
        status, problem = await world.raw("GET", f"{path}?{query}", token)
        assert (status, problem["type"]) == (422, "validation-failed"), (query, problem)
        assert problem["errors"][0]["field"] == field, query
    status, problem = await world.raw("GET", f"{path}?since=²", "not-a-session")
    assert (status, problem["type"]) == (401, "unauthorized")
    status, page = await world.raw("GET", f"{path}?since=0&limit=0&other=x", token)
    assert (status, page["last_seq"]) == (200, 1)


async def test_the_invitation_name_bound_is_the_documented_one(world: World) -> None:
    """invite's `name` was max_len=100 in code and unbounded in the document: both now come
    from InviteBody. 101 characters are refused naming the field, 100 accepted."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    _, document = await world.raw("GET", "/api/openapi.json")
    schema = document["components"]["schemas"]["InviteBody"]["properties"]["name"]
    limit = next(s["maxLength"] for s in schema["anyOf"] if s.get("type") == "string")
    assert limit == 100
    path = f"/api/booklets/{booklet}/invitations"
    status, problem = await world.raw("POST", path, therapist.profile.token,
                                      json={"role": "guardian", "name": "x" * (limit + 1)})
    assert (status, problem["errors"]) == (422, [
        {"field": "name", "problem": "longer than 100 characters"}])
    status, _ = await world.raw("POST", path, therapist.profile.token,
                                json={"role": "guardian", "name": "x" * limit})
    assert status == 201


async def test_field_problems_keep_their_words(world: World) -> None:
    """The problems the old field readers wrote are written the same from the types."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    token = therapist.profile.token
    cases: list[tuple[str, dict[str, Any], str, str]] = [
        ("/api/login", {"auth_key": KEY}, "login", "required text"),
        ("/api/login", {"login": "  ", "auth_key": KEY}, "login", "required text"),
        ("/api/login", {"login": "x" * 201, "auth_key": KEY}, "login",
         "longer than 200 characters"),
        ("/api/login", {"login": "x", "auth_key": KEY + "AAAA"}, "auth_key",
         "must decode to 32 bytes"),
        ("/api/login", {"login": "x", "auth_key": 7}, "auth_key", "base64url text required"),
        ("/api/login", {"login": "x"}, "auth_key", "base64url text required"),
        (f"/api/booklets/{booklet}/appointments", {"duration_minutes": 45}, "start",
         "required text"),
        (f"/api/booklets/{booklet}/notices", {"channel": "sms"}, "member_id",
         "32 lowercase hex digits"),
        (f"/api/booklets/{booklet}/receipts", {"read_seq": True}, "read_seq",
         "an integer from 0 to 4611686018427387904"),
        (f"/api/booklets/{booklet}/receipts", {"read_seq": 2**64}, "read_seq",
         "an integer from 0 to 4611686018427387904"),
        (f"/api/booklets/{booklet}/invitations", {"role": "therapist"}, "role",
         "one of ['caregiver', 'guardian']"),
        (f"/api/booklets/{booklet}/invitations", {"role": "guardian", "send": "sms"}, "send",
         "a list of text"),
        (f"/api/booklets/{booklet}/notices", {"member_id": "AB" * 16, "channel": "sms"},
         "member_id", "32 lowercase hex digits"),
    ]
    for path, body, field, problem in cases:
        status, answer = await world.raw("POST", path, token, json=body)
        assert (status, answer.get("errors")) == (422, [{"field": field, "problem": problem}]), (
            path, body, answer)


async def test_fields_the_types_do_not_name_are_ignored(world: World) -> None:
    """A client may send more than the API reads (an extra field, even a deep or odd one
    within the limits): the body is read as if they were not there."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    status, answer = await world.raw(
        "POST", f"/api/booklets/{booklet}/receipts", therapist.profile.token,
        json={"read_seq": 1, "client": {"name": "x", "n": [1, [2, [3]]]}, "big": 10**30})
    assert (status, answer) == (200, {"read_seq": 1})
