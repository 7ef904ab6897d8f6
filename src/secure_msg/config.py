"""Typed, validated configuration: a TOML file, then `SECURE_MSG_<SECTION>_<KEY>` env overrides.

Every key lives in one section dataclass below; `config/secure-msg.example.toml` documents each
one (tests/test_config.py fails when the two disagree). Validation runs once at start-up and the
error names the bad key and where its value came from. Relative paths resolve against the working
directory at load time.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from secure_msg.errors import ConfigError

ENV_PREFIX = "SECURE_MSG_"
DEFAULT_CONFIG_PATH = Path("config/secure-msg.toml")
EXAMPLE_CONFIG_PATH = Path("config/secure-msg.example.toml")


class Secret:
    """A string that never shows itself in repr/str (logs, tracebacks, debug dumps)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


Check = Callable[[Any], str | None]  # returns a problem description, or None when fine


def _check(fn: Check) -> dict[str, Check]:
    return {"check": fn}


def _between(lo: int, hi: int) -> Check:
    return lambda v: None if lo <= v <= hi else f"must be between {lo} and {hi}"


def _http_url(v: str) -> str | None:
    ok = re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", v) and not v.endswith("/")
    return None if ok else "must be an http(s) URL without a trailing slash, query or fragment"


def _hhmm(v: str) -> str | None:
    return None if re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", v) else "must be HH:MM (24-hour)"


def _e164_or_empty(v: str) -> str | None:
    return None if v == "" or re.fullmatch(r"\+[1-9]\d{6,14}", v) else "must be E.164 (+358…)"


def _account_sid_or_empty(v: str) -> str | None:
    # Lower-case, as Twilio writes it in every webhook's AccountSid (web/webhooks_twilio.py).
    ok = v == "" or re.fullmatch(r"AC[0-9a-f]{32}", v)
    return None if ok else "must be the Account SID: AC and 32 lower-case hex digits"


def _networks(v: str) -> str | None:
    try:
        for part in v.split(","):
            if part.strip():
                ipaddress.ip_network(part.strip(), strict=False)
    except ValueError:
        return "must be IP addresses or networks separated by commas"
    return None


def _short_text(v: str) -> str | None:
    return None if len(v) <= 11 and "\n" not in v else "must be at most 11 characters"


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = field(default=8080, metadata=_check(_between(0, 65535)))
    public_base_url: str = field(default="http://127.0.0.1:8080", metadata=_check(_http_url))
    # Against slow and idle clients (docs/operations.md, "Timeouts and connections").
    header_timeout_seconds: int = field(default=10, metadata=_check(_between(1, 300)))
    body_timeout_seconds: int = field(default=60, metadata=_check(_between(1, 3600)))
    keepalive_timeout_seconds: int = field(default=75, metadata=_check(_between(1, 3600)))
    max_connections: int = field(default=512, metadata=_check(_between(1, 100_000)))
    # Reverse proxies whose X-Forwarded-For names the client (web/client_address.py).
    trusted_proxies: str = field(default="127.0.0.1, ::1", metadata=_check(_networks))


def _backend(v: str) -> str | None:
    return None if v in ("sqlite", "postgresql") else "must be sqlite or postgresql"


@dataclass(frozen=True)
class StorageConfig:
    # sqlite (the default: database_path) or postgresql (the DSN comes from the environment,
    # SECURE_MSG_DATABASE_URL, never from this file: it may hold a password).
    backend: str = field(default="sqlite", metadata=_check(_backend))
    database_path: Path = Path("var/secure-msg.db")
    keys_dir: Path = Path("keys")


@dataclass(frozen=True)
class LimitsConfig:
    max_entry_bytes: int = field(default=1_048_576, metadata=_check(_between(1024, 1 << 30)))
    max_request_bytes: int = field(default=2_097_152, metadata=_check(_between(1024, 1 << 30)))
    # A sealed client state (docs/protocol.md §6.5); its layout allows at most 1 048 636 bytes.
    client_state_bytes: int = field(default=1_048_576, metadata=_check(_between(1024, 1_048_636)))


@dataclass(frozen=True)
class BlobsConfig:
    """Encrypted attachments (docs/operations.md, "Attachments"): opaque to the server."""

    # Empty = `blobs/` beside the database, so that backing up the database's directory
    # takes the blobs with it.
    directory: str = ""
    # 25 MiB of file plus room for the chunked format's overhead.
    max_blob_bytes: int = field(default=27_262_976, metadata=_check(_between(1024, 1 << 34)))
    booklet_quota_bytes: int = field(default=524_288_000,
                                     metadata=_check(_between(1024, 1 << 44)))
    # An upload no entry has listed by then is deleted by the scheduler tick.
    pending_minutes: int = field(default=120, metadata=_check(_between(1, 7 * 24 * 60)))
    max_per_entry: int = field(default=20, metadata=_check(_between(1, 1000)))
    # A whole upload must arrive within this (instead of [server] body_timeout_seconds).
    upload_timeout_seconds: int = field(default=900, metadata=_check(_between(1, 86_400)))

    def path(self, database_path: Path) -> Path:
        return Path(self.directory).expanduser() if self.directory else (
            database_path.parent / "blobs")


@dataclass(frozen=True)
class AccountsConfig:
    session_lifetime_hours: int = field(default=12, metadata=_check(_between(1, 24 * 90)))
    invitation_lifetime_days: int = field(default=7, metadata=_check(_between(1, 90)))
    login_max_failures: int = field(default=5, metadata=_check(_between(1, 1000)))
    login_window_seconds: int = field(default=900, metadata=_check(_between(1, 86_400)))
    login_name_max_failures: int = field(default=20, metadata=_check(_between(1, 10_000)))
    client_max_failures: int = field(default=10, metadata=_check(_between(1, 10_000)))
    argon2_max_running: int = field(default=2, metadata=_check(_between(1, 256)))
    argon2_max_queued: int = field(default=16, metadata=_check(_between(0, 10_000)))


@dataclass(frozen=True)
class Argon2Config:
    # Never below OWASP's Argon2id minimum (t=2, 19 MiB), not even in tests.
    opslimit: int = field(default=3, metadata=_check(_between(2, 64)))
    memlimit_bytes: int = field(
        default=67_108_864, metadata=_check(_between(19 * 1024 * 1024, 1 << 32))
    )


@dataclass(frozen=True)
class TwilioConfig:
    account_sid: str = field(default="", metadata=_check(_account_sid_or_empty))
    auth_token: Secret = field(default_factory=lambda: Secret(""))
    from_number: str = field(default="", metadata=_check(_e164_or_empty))
    api_base_url: str = field(default="https://api.twilio.com", metadata=_check(_http_url))


_TWILIO_CREDENTIALS = ("account_sid", "auth_token", "from_number")
# Twilio's own API (api.twilio.com or a regional edge such as api.dublin.ie1.twilio.com); any
# other base URL is a Twilio-compatible server (tests, `make run`) with a token of its own.
_TWILIO_API = re.compile(r"https://([a-z0-9-]+\.)*twilio\.com")


def require_twilio_complete(t: TwilioConfig) -> None:
    """All three credentials or none, checked when the server starts (admin commands load the
    same file without the token, which is in the service's environment only). A partial set
    would start a server whose notices all fail later and whose webhooks all get 403 or 400."""
    if any(getattr(t, key) for key in _TWILIO_CREDENTIALS):
        for key in _TWILIO_CREDENTIALS:
            if not getattr(t, key):
                raise ConfigError(f"twilio.{key}", "must be set too: account_sid, auth_token "
                                  "(SECURE_MSG_TWILIO_AUTH_TOKEN) and from_number go together")


def _check_auth_token(t: TwilioConfig) -> None:
    """A token for Twilio's own API has the Auth Token's shape; never shown in the error."""
    token = t.auth_token.reveal()
    if token and _TWILIO_API.fullmatch(t.api_base_url) and not re.fullmatch(
            r"[0-9a-fA-F]{32}", token):
        raise ConfigError("twilio.auth_token", "must be the account's Auth Token from the Twilio "
                          "console, 32 hex digits (not an API key secret: webhook signatures "
                          "are made with the Auth Token)")


@dataclass(frozen=True)
class NoticesConfig:
    timezone: str = "Europe/Helsinki"
    quiet_hours_start: str = field(default="21:00", metadata=_check(_hhmm))
    quiet_hours_end: str = field(default="08:00", metadata=_check(_hhmm))
    reminder_lead_hours: int = field(default=24, metadata=_check(_between(1, 24 * 14)))
    # Empty = no sender name in notices (DESIGN §1.3); a practice opts in by setting one.
    sender_name: str = field(default="", metadata=_check(_short_text))
    send_rate_per_second: int = field(default=1, metadata=_check(_between(1, 10_000)))
    scheduler_interval_ms: int = field(default=30_000, metadata=_check(_between(20, 3_600_000)))
    # A safety cap on create requests per notice (429s not counted); the horizon ends retries.
    max_attempts: int = field(default=100, metadata=_check(_between(1, 10_000)))
    claim_lease_seconds: int = field(default=60, metadata=_check(_between(1, 3600)))
    # Retry a notice that could not be sent for this long after it was due (an appointment
    # notice only until the appointment begins), then it ends `expired`.
    retry_horizon_minutes: int = field(default=360, metadata=_check(_between(1, 14 * 24 * 60)))
    retry_base_delay_ms: int = field(default=1000, metadata=_check(_between(1, 3_600_000)))
    retry_max_delay_ms: int = field(default=300_000, metadata=_check(_between(1, 3_600_000)))
    # After an ambiguous attempt, wait this long before looking for the message at Twilio.
    reconcile_delay_ms: int = field(default=10_000, metadata=_check(_between(0, 3_600_000)))
    request_timeout_ms: int = field(default=10_000, metadata=_check(_between(100, 300_000)))
    # Poll the status of a sent notice that heard nothing from Twilio for this long.
    status_poll_after_seconds: int = field(default=1800, metadata=_check(_between(1, 86_400)))

    def __post_init__(self) -> None:
        if self.retry_base_delay_ms > self.retry_max_delay_ms:
            raise ConfigError("notices.retry_base_delay_ms",
                              "must not exceed notices.retry_max_delay_ms")
    new_entry_ping: bool = False
    new_entry_ping_minutes: int = field(default=60, metadata=_check(_between(1, 7 * 24 * 60)))
    manual_notices_per_member_hour: int = field(default=3, metadata=_check(_between(1, 1000)))
    manual_notices_per_member_day: int = field(default=10, metadata=_check(_between(1, 10_000)))


@dataclass(frozen=True)
class AppointmentsConfig:
    late_cancellation_hours: int = field(default=24, metadata=_check(_between(0, 24 * 14)))
    count_late_cancellations: bool = False
    period_few_sessions: int = field(default=5, metadata=_check(_between(0, 100)))


@dataclass(frozen=True)
class RetentionConfig:
    # A closed booklet stays readable (and exportable) this long, then it is purged. The
    # practice's patient record system is the record of truth (docs/operations.md).
    closed_booklet_days: int = field(default=365, metadata=_check(_between(1, 3650)))
    # Members are reminded to export this long before the purge; the purge waits for it.
    export_reminder_days: int = field(default=30, metadata=_check(_between(1, 365)))

    def __post_init__(self) -> None:
        if self.export_reminder_days > self.closed_booklet_days:
            raise ConfigError("retention.export_reminder_days",
                              "must not exceed retention.closed_booklet_days")


@dataclass(frozen=True)
class EmailConfig:
    enabled: bool = False
    smtp_host: str = "localhost"
    smtp_port: int = field(default=25, metadata=_check(_between(1, 65535)))
    starttls: bool = False
    username: str = ""
    password: Secret = field(default_factory=lambda: Secret(""))
    from_address: str = "noreply@localhost"


def _whatsapp_or_empty(v: str) -> str | None:
    ok = v == "" or re.fullmatch(r"whatsapp:\+[1-9]\d{6,14}", v)
    return None if ok else "must be a WhatsApp sender address (whatsapp:+358…)"


_TEMPLATE_KINDS = frozenset({
    "invitation", "reminder", "cancelled_by_therapist", "cancellation_confirmed",
    "family_cancelled_alert", "new_entry_ping", "period_ending",
})  # the notice kinds (model/notice_templates.py) that may go by WhatsApp


def _template_problem(key: str, sid: str) -> str | None:
    """Why `key = sid` is not a valid [whatsapp.templates] entry, or None."""
    kind, _, language = key.partition(".")
    if kind not in _TEMPLATE_KINDS or language not in {"fi", "sv", "en"}:
        return "must be <kind>.<language>, e.g. reminder.fi (language fi, sv or en)"
    if re.fullmatch(r"HX[0-9a-fA-F]{32}", sid) is None:
        return "must be a Content template SID (HX followed by 32 hex digits)"
    return None


@dataclass(frozen=True)
class WhatsappConfig:
    enabled: bool = False
    sender: str = field(default="", metadata=_check(_whatsapp_or_empty))
    templates: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.enabled and not self.sender:
            raise ConfigError("whatsapp.sender", "must be set when whatsapp.enabled is true")
        for key, sid in self.templates.items():
            problem = _template_problem(key, sid)
            if problem:
                raise ConfigError(f"whatsapp.templates.{key}", problem)


@dataclass(frozen=True)
class LoggingConfig:
    level: str = field(
        default="INFO",
        metadata=_check(lambda v: None if v in {"DEBUG", "INFO", "WARNING", "ERROR"} else
                        "must be DEBUG, INFO, WARNING or ERROR"),
    )


@dataclass(frozen=True)
class Config:
    server: ServerConfig = ServerConfig()
    storage: StorageConfig = StorageConfig()
    limits: LimitsConfig = LimitsConfig()
    blobs: BlobsConfig = BlobsConfig()
    accounts: AccountsConfig = AccountsConfig()
    argon2: Argon2Config = Argon2Config()
    twilio: TwilioConfig = TwilioConfig()
    notices: NoticesConfig = NoticesConfig()
    appointments: AppointmentsConfig = AppointmentsConfig()
    retention: RetentionConfig = RetentionConfig()
    email: EmailConfig = EmailConfig()
    whatsapp: WhatsappConfig = WhatsappConfig()
    logging: LoggingConfig = LoggingConfig()

    def __post_init__(self) -> None:
        if self.limits.max_entry_bytes > self.limits.max_request_bytes:
            raise ConfigError("limits.max_entry_bytes", "must not exceed limits.max_request_bytes")
        _check_auth_token(self.twilio)
        if self.blobs.max_blob_bytes > self.blobs.booklet_quota_bytes:
            raise ConfigError("blobs.max_blob_bytes", "must not exceed blobs.booklet_quota_bytes")

    @property
    def is_https(self) -> bool:
        return self.server.public_base_url.startswith("https://")


def all_keys() -> list[str]:
    """Every `section.key` the service understands, in declaration order."""
    out = []
    for section in dataclasses.fields(Config):
        cls = get_type_hints(Config)[section.name]
        out += [f"{section.name}.{f.name}" for f in dataclasses.fields(cls)]
    return out


def load_config(path: Path | None, env: Mapping[str, str] | None = None) -> Config:
    """Read `path` (None = defaults only), apply environment overrides, validate every key."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("(file)", f"{path} does not exist; run `secure-msg init`") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("(file)", f"{path} is not valid TOML: {exc}") from None
    hints = get_type_hints(Config)
    unknown = set(raw) - set(hints)
    if unknown:
        raise ConfigError(sorted(unknown)[0], "unknown section")
    sections = {
        name: _load_section(name, hints[name], raw.get(name, {}), env) for name in hints
    }
    return Config(**sections)


def _load_section(name: str, cls: type[Any], raw: Any, env: Mapping[str, str]) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(name, "must be a table ([section])")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(raw) - set(fields)
    if unknown:
        raise ConfigError(f"{name}.{sorted(unknown)[0]}", "unknown key")
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, f in fields.items():
        dotted = f"{name}.{key}"
        env_name = f"{ENV_PREFIX}{name}_{key}".upper()
        if env_name in env:
            value = _from_env(dotted, hints[key], env[env_name], env_name)
        elif key in raw:
            value = _coerce(dotted, hints[key], raw[key], "config file")
        else:
            continue
        problem = f.metadata["check"](value) if "check" in f.metadata else None
        if problem:
            source = env_name if env_name in env else "config file"
            raise ConfigError(dotted, f"{problem} (got {_shown(value)} from {source})")
        values[key] = value
    return cls(**values)


def _shown(value: Any) -> str:
    return repr(value) if not isinstance(value, Secret) else "a secret"


def _from_env(dotted: str, typ: Any, text: str, env_name: str) -> Any:
    if typ is bool:
        if text.lower() in {"1", "true", "yes", "on"}:
            return True
        if text.lower() in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(dotted, f"must be true or false (from {env_name})")
    if typ is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(dotted, f"must be an integer (from {env_name})") from None
    if typ == dict[str, str]:
        raise ConfigError(dotted, f"is a table: set it in the config file, not {env_name}")
    return _coerce(dotted, typ, text, env_name)


def _flat_table(dotted: str, value: Any, source: str) -> dict[str, str]:
    """A table of strings; dotted TOML keys (`reminder.fi = …`) flatten to "reminder.fi"."""
    if not isinstance(value, dict):
        raise ConfigError(dotted, f"must be a table (from {source})")
    out: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, dict):
            out.update({f"{key}.{k}": v for k, v in _flat_table(f"{dotted}.{key}", item,
                                                                   source).items()})
        elif isinstance(item, str):
            out[str(key)] = item
        else:
            raise ConfigError(f"{dotted}.{key}", f"must be a string (from {source})")
    return out


def _coerce(dotted: str, typ: Any, value: Any, source: str) -> Any:
    if typ == dict[str, str]:
        return _flat_table(dotted, value, source)
    expected: dict[Any, tuple[type, ...]] = {
        bool: (bool,), int: (int,), str: (str,), Path: (str,), Secret: (str,),
    }
    ok = isinstance(value, expected[typ]) and not (typ is int and isinstance(value, bool))
    if not ok:
        kind = {bool: "true or false", int: "an integer"}.get(typ, "a string")
        raise ConfigError(dotted, f"must be {kind} (from {source})")
    if typ is Path:
        return Path(value).expanduser()
    if typ is Secret:
        return Secret(value)
    return value


def with_overrides(config: Config, **sections: Mapping[str, Any]) -> Config:
    """A copy of `config` with some keys replaced, e.g. with_overrides(c, server={"port": 0})."""
    replaced = {
        name: dataclasses.replace(getattr(config, name), **values)
        for name, values in sections.items()
    }
    return dataclasses.replace(config, **replaced)
