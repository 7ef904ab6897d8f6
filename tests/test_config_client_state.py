"""Config key limits.client_state_bytes: its default and its bounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from secure_msg.config import load_config
from secure_msg.errors import ConfigError


def test_client_state_limit_defaults_to_256_kib() -> None:
    """A sealed client state may be 262 144 bytes unless configured otherwise."""
    assert load_config(None, env={}).limits.client_state_bytes == 1_048_576


@pytest.mark.parametrize("value", ["0", "1023", "1048637", "lots"])
def test_client_state_limit_outside_its_bounds_names_the_key(value: str) -> None:
    """Below 1 KiB, above the layout's 1 048 636 bytes or not a number: refused at load."""
    with pytest.raises(ConfigError) as info:
        load_config(None, env={"SECURE_MSG_LIMITS_CLIENT_STATE_BYTES": value})
    assert info.value.key == "limits.client_state_bytes"


def test_client_state_limit_from_the_file(tmp_path: Path) -> None:
    """The [limits] table sets it."""
    path = tmp_path / "c.toml"
    path.write_text("[limits]\nclient_state_bytes = 4096\n")
    assert load_config(path, env={}).limits.client_state_bytes == 4096
