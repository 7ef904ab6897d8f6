"""Config: every key documented, validation names the bad key, env overrides, secrets masked."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from secure_msg.config import (
    EXAMPLE_CONFIG_PATH,
    Secret,
    all_keys,
    load_config,
    require_twilio_complete,
)
from secure_msg.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / EXAMPLE_CONFIG_PATH


def _example_keys() -> list[str]:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    return [f"{section}.{key}" for section, table in data.items() for key in table]


def test_every_config_key_is_in_the_example_and_vice_versa() -> None:
    """The example file documents exactly the keys the code understands."""
    assert sorted(_example_keys()) == sorted(all_keys())


def test_every_example_key_has_a_comment_above_it() -> None:
    """Each key in the example is explained by a comment line right before it."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if re.match(r"^[a-z_]+\s*=", line):
            assert lines[number - 1].startswith("#"), f"undocumented key: {line}"


def test_example_loads_to_the_defaults() -> None:
    """The example's values are the built-in defaults, so copying it changes nothing."""
    assert load_config(EXAMPLE, env={}) == load_config(None, env={})


def test_invitation_lifetime_defaults_to_seven_days_and_whatsapp_off() -> None:
    """Defaults that privacy depends on: 7-day invitations, no sender name, no WhatsApp."""
    config = load_config(None, env={})
    assert config.accounts.invitation_lifetime_days == 7
    assert config.notices.sender_name == ""
    assert config.whatsapp.enabled is False
    assert config.storage.database_path == Path("var/secure-msg.db")


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    """SECURE_MSG_<SECTION>_<KEY> wins over the file and is parsed to the key's type."""
    path = tmp_path / "c.toml"
    path.write_text("[server]\nport = 9000\n")
    config = load_config(path, env={"SECURE_MSG_SERVER_PORT": "9100",
                                    "SECURE_MSG_WHATSAPP_ENABLED": "true",
                                    "SECURE_MSG_WHATSAPP_SENDER": "whatsapp:+358451230000"})
    assert config.server.port == 9100
    assert config.whatsapp.enabled is True


@pytest.mark.parametrize(
    ("toml", "env", "key"),
    [
        ("[server]\nport = 70000\n", {}, "server.port"),
        ("[server]\nport = \"80\"\n", {}, "server.port"),
        ("[server]\nprot = 80\n", {}, "server.prot"),
        ("[sever]\nport = 80\n", {}, "sever"),
        ("[server]\npublic_base_url = \"ftp://x/\"\n", {}, "server.public_base_url"),
        ("[notices]\nquiet_hours_start = \"25:00\"\n", {}, "notices.quiet_hours_start"),
        ("[whatsapp]\nenabled = \"yes\"\n", {}, "whatsapp.enabled"),
        ("[whatsapp]\nenabled = true\n", {}, "whatsapp.sender"),
        ("[whatsapp]\nsender = \"+358451230000\"\n", {}, "whatsapp.sender"),
        ("[whatsapp.templates]\nreminder.xx = \"HX" + "a" * 32 + "\"\n", {},
         "whatsapp.templates.reminder.xx"),
        ("[whatsapp.templates]\nchat.fi = \"HX" + "a" * 32 + "\"\n", {},
         "whatsapp.templates.chat.fi"),
        ("[whatsapp.templates]\nreminder.fi = \"Hei {date}\"\n", {},
         "whatsapp.templates.reminder.fi"),
        ("[whatsapp.templates]\nreminder.fi = 3\n", {}, "whatsapp.templates.reminder.fi"),
        ("", {"SECURE_MSG_WHATSAPP_TEMPLATES": "x"}, "whatsapp.templates"),
        ("", {"SECURE_MSG_LIMITS_MAX_REQUEST_BYTES": "lots"}, "limits.max_request_bytes"),
        ("[limits]\nmax_entry_bytes = 5000\nmax_request_bytes = 4000\n", {},
         "limits.max_entry_bytes"),
    ],
)
def test_invalid_values_name_the_key(tmp_path: Path, toml: str, env: dict[str, str],
                                     key: str) -> None:
    """A bad value fails at load time with an error naming the offending key."""
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env)
    assert info.value.key == key
    assert key in str(info.value)


def test_missing_file_says_to_run_init(tmp_path: Path) -> None:
    """A missing config file is a clear error pointing at `secure-msg init`."""
    with pytest.raises(ConfigError, match="secure-msg init"):
        load_config(tmp_path / "absent.toml", env={})


SID = "AC" + "0123456789abcdef" * 2
TOKEN = "5ec2e7" + "0123456789abcdef" * 1 + "fedcba9876"  # an Auth Token's shape: 32 hex digits
TWILIO = {"SECURE_MSG_TWILIO_ACCOUNT_SID": SID, "SECURE_MSG_TWILIO_AUTH_TOKEN": TOKEN,
          "SECURE_MSG_TWILIO_FROM_NUMBER": "+358451230000"}


def test_secrets_are_masked_in_repr(tmp_path: Path) -> None:
    """The Twilio auth token from the environment never shows in repr/str of the config."""
    config = load_config(None, env=TWILIO)
    assert config.twilio.auth_token.reveal() == TOKEN
    assert TOKEN not in repr(config)
    assert TOKEN not in str(config.twilio)
    assert repr(Secret("x")) == "Secret('********')"


def _without(*keys: str, **changed: str) -> dict[str, str]:
    env = {k: v for k, v in TWILIO.items() if k.removeprefix("SECURE_MSG_TWILIO_") not in keys}
    return env | {f"SECURE_MSG_TWILIO_{k}": v for k, v in changed.items()}


@pytest.mark.parametrize(
    ("env", "key", "says"),
    [
        (_without(ACCOUNT_SID="AC123"), "twilio.account_sid", "32"),
        (_without(ACCOUNT_SID=SID.upper()), "twilio.account_sid", "32"),  # webhooks say lower
        (_without(ACCOUNT_SID="SK" + SID[2:]), "twilio.account_sid", "AC"),
        (_without(FROM_NUMBER="0451230000"), "twilio.from_number", "E.164"),
        (_without(AUTH_TOKEN=TOKEN[:31]), "twilio.auth_token", "32 hex"),
        (_without(AUTH_TOKEN=TOKEN + "\n"), "twilio.auth_token", "32 hex"),
        (_without(AUTH_TOKEN="Xy" * 16), "twilio.auth_token", "API key"),  # an API key secret
        (_without("ACCOUNT_SID", "FROM_NUMBER", AUTH_TOKEN="t0k3n"), "twilio.auth_token", "32 hex"),
    ],
)
def test_twilio_settings_have_twilios_shapes(env: dict[str, str], key: str, says: str) -> None:
    """Each Twilio setting given is in Twilio's shape, for every command that loads the config;
    the error names the key and never shows the token."""
    with pytest.raises(ConfigError) as info:
        load_config(None, env=env)
    assert (info.value.key, says in str(info.value)) == (key, True), str(info.value)
    token = env.get("SECURE_MSG_TWILIO_AUTH_TOKEN")
    assert not token or token.strip() not in str(info.value)


@pytest.mark.parametrize(
    ("env", "key"),
    [
        (_without("ACCOUNT_SID"), "twilio.account_sid"),
        (_without("AUTH_TOKEN"), "twilio.auth_token"),
        (_without("FROM_NUMBER"), "twilio.from_number"),
        (_without("ACCOUNT_SID", "FROM_NUMBER"), "twilio.account_sid"),
    ],
)
def test_the_server_needs_all_three_twilio_credentials_or_none(env: dict[str, str],
                                                                key: str) -> None:
    """One Twilio credential without the others is refused when the server starts, naming the
    missing key (the token is not in it); none at all is fine (SMS off, or the dev server)."""
    with pytest.raises(ConfigError) as info:
        require_twilio_complete(load_config(None, env=env).twilio)
    assert info.value.key == key
    assert "must be set" in str(info.value)
    assert TOKEN not in str(info.value)
    require_twilio_complete(load_config(None, env={}).twilio)
    require_twilio_complete(load_config(None, env=TWILIO).twilio)


def test_a_local_twilio_server_may_use_any_token() -> None:
    """Only Twilio's own API insists on an Auth Token's shape: the local Twilio-compatible
    server (tests, `make run`) takes any non-empty token."""
    local = _without(AUTH_TOKEN="practice-auth-token",
                     API_BASE_URL="http://127.0.0.1:8099")
    assert load_config(None, env=local).twilio.auth_token.reveal() == "practice-auth-token"
    with pytest.raises(ConfigError, match=r"twilio\.auth_token"):
        load_config(None, env=_without(AUTH_TOKEN="practice-auth-token"))
    regional = _without(AUTH_TOKEN="practice-auth-token",
                        API_BASE_URL="https://api.dublin.ie1.twilio.com")
    with pytest.raises(ConfigError, match=r"twilio\.auth_token"):
        load_config(None, env=regional)


def test_whatsapp_templates_read_as_kind_dot_language(tmp_path: Path) -> None:
    """`[whatsapp.templates]` dotted keys become "kind.language" → ContentSid."""
    path = tmp_path / "c.toml"
    sid = "HX" + "0123456789abcdef" * 2
    path.write_text("[whatsapp]\nenabled = true\nsender = \"whatsapp:+358451230000\"\n"
                    f"[whatsapp.templates]\nreminder.fi = \"{sid}\"\n"
                    f"\"period_ending.sv\" = \"{sid}\"\n")
    config = load_config(path, env={})
    assert config.whatsapp.templates == {"reminder.fi": sid, "period_ending.sv": sid}
