"""A client state larger than the server keeps (limits.client_state_bytes) is a warning, not a
failure: the client goes on with what it holds on this device."""

from __future__ import annotations

from dataclasses import replace

import pytest

from secure_msg.client.state_sync import StateProblem
from secure_msg.config import Config, with_overrides

from .conftest import World


@pytest.fixture
def config(config: Config) -> Config:
    return with_overrides(config, limits={"client_state_bytes": 1024})


async def test_a_state_over_the_servers_limit_stays_on_the_device(world: World) -> None:
    """The server answers 413: the sync reports state-too-large, keeps the profile's pins and
    lets the client carry on; nothing is stored."""
    therapist = await world.therapist()
    pins = therapist.profile.pins
    pins[therapist.profile.account_id] = replace(
        pins[therapist.profile.account_id], name="x" * 2000, name_pinned=True)
    assert await therapist.sync_state() == [StateProblem("state-too-large")]
    assert therapist.profile.pins[therapist.profile.account_id].name == "x" * 2000
    assert therapist.profile.state_version == 0
    assert (await therapist.api.call("GET", "/api/me/state"))["version"] == 0
    booklet = await therapist.create_booklet("Aino")
    assert booklet
