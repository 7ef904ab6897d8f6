"""The contract check the API tests run under (secure_msg.testing.contract) catches each way an
answer can depart from /api/openapi.json, and passes one that does not."""

from __future__ import annotations

from typing import TypedDict

from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from secure_msg.config import Config
from secure_msg.errors import Conflict, Forbidden
from secure_msg.testing.contract import Contract
from secure_msg.web.app import create_app
from secure_msg.web.openapi import add_route

Client = TestClient[web.Request, web.Application]


class Thing(TypedDict):
    id: int
    name: str | None



async def _thing(request: web.Request) -> web.Response:
    case = request.query.get("case", "")
    if case == "forbidden":
        raise Forbidden()  # 403: documented
    if case == "conflict":
        raise Conflict()  # 409: not documented for this operation
    bodies = {"ok": {"id": 1, "name": None}, "missing": {"id": 1},
              "extra": {"id": 1, "name": "x", "secret": 2}, "wrong": {"id": "1", "name": "x"}}
    if case == "text":
        return web.Response(text="hello")
    return web.json_response(bodies[case])


def _routes(app: web.Application) -> None:
    add_route(app, "GET", "/things/{thing_id}", _thing, summary="A thing", response=Thing,
              errors=(403,))


async def _contract_client(config: Config, aiohttp_client: AiohttpClient
                           ) -> tuple[Client, Contract]:
    app = create_app(config, route_setups=[_routes])
    contract = Contract.install(app)
    return await aiohttp_client(app), contract


async def test_a_documented_answer_passes(config: Config, aiohttp_client: AiohttpClient
                                          ) -> None:
    client, contract = await _contract_client(config, aiohttp_client)
    for case in ("ok", "forbidden"):
        await client.get(f"/things/{'a' * 32}?case={case}")
    assert (contract.checked, contract.violations) == (2, [])


async def test_each_departure_is_one_violation(config: Config, aiohttp_client: AiohttpClient
                                               ) -> None:
    """An undocumented status, a missing field, an undeclared field, a wrong type and an
    undocumented media type are each reported, naming the operation and the status."""
    client, contract = await _contract_client(config, aiohttp_client)
    for case in ("conflict", "missing", "extra", "wrong", "text"):
        await client.get(f"/things/{'a' * 32}?case={case}")
    where = "GET /things/{thing_id} -> "
    assert len(contract.violations) == 5, contract.violations
    conflict, missing, extra, wrong, text = contract.violations
    assert conflict.startswith(where + "409: status not documented")
    assert missing == where + "200: (root): 'name' is a required property"
    assert extra.startswith(where + "200: (root): Additional properties are not allowed")
    assert wrong == where + "200: id: '1' is not of type 'integer'"
    assert text.startswith(where + "200: 'text/plain' not in ['application/json']")


async def test_answers_outside_any_operation_are_not_checked(
    config: Config, aiohttp_client: AiohttpClient,
) -> None:
    """No route (404) and a method the route lacks (405) belong to no operation."""
    client, contract = await _contract_client(config, aiohttp_client)
    assert (await client.get("/nowhere")).status == 404
    assert (await client.delete(f"/things/{'a' * 32}")).status == 405
    assert (contract.checked, contract.violations) == (0, [])
