"""The channel policy: which content may travel over which channel (DESIGN §1.2, §5).

Only the inbox carries clinical or user-written content (it is end-to-end
encrypted there). Plain channels (SMS, e-mail, WhatsApp) carry only notices
rendered by the server from fixed templates; WhatsApp notices additionally
need to be switched on in config. A `whatsapp:` address never goes through
the SMS path, whatever the content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class ContentClass(StrEnum):
    CLINICAL = "clinical"  # booklet entries, homework, documents, titles
    FREE_TEXT = "free_text"  # anything a person wrote
    NOTICE = "notice"  # rendered by the server from a fixed template


class Channel(StrEnum):
    INBOX = "inbox"
    SMS = "sms"
    EMAIL = "email"
    WHATSAPP = "whatsapp"


PLAIN_CHANNELS = frozenset({Channel.SMS, Channel.EMAIL, Channel.WHATSAPP})


class RefusalReason(StrEnum):
    CLINICAL_CONTENT = "clinical-content-on-plain-channel"
    FREE_TEXT = "free-text-on-plain-channel"
    WHATSAPP_ADDRESS_ON_SMS = "whatsapp-address-on-sms"
    NOT_A_WHATSAPP_ADDRESS = "not-a-whatsapp-address"
    WHATSAPP_NOTICES_DISABLED = "whatsapp-notices-disabled"


# Stable problem+json types the web layer maps refusals to (DESIGN §1.2, §1.7).
CONTENT_REFUSED_PROBLEM = "clinical-content-refused"
CHANNEL_DISABLED_PROBLEM = "channel-disabled"

_DETAIL = {
    RefusalReason.CLINICAL_CONTENT: "Clinical content goes only through the encrypted inbox.",
    RefusalReason.FREE_TEXT: "Written text goes only through the encrypted inbox.",
    RefusalReason.WHATSAPP_ADDRESS_ON_SMS: "A WhatsApp address cannot be used for SMS.",
    RefusalReason.NOT_A_WHATSAPP_ADDRESS: "WhatsApp needs a whatsapp: address.",
    RefusalReason.WHATSAPP_NOTICES_DISABLED: "WhatsApp notices are not enabled.",
}


@dataclass(frozen=True)
class PolicyDecision:
    """The verdict for one content class on one channel; `reason` is None when allowed."""

    allowed: bool
    reason: RefusalReason | None = None

    @property
    def problem_type(self) -> str | None:
        """The problem+json type for a refusal, None when allowed."""
        if self.reason is None:
            return None
        if self.reason is RefusalReason.WHATSAPP_NOTICES_DISABLED:
            return CHANNEL_DISABLED_PROBLEM
        return CONTENT_REFUSED_PROBLEM

    @property
    def detail(self) -> str | None:
        """User-facing explanation of a refusal (no internal detail)."""
        return None if self.reason is None else _DETAIL[self.reason]


ALLOW = PolicyDecision(allowed=True)

_WHATSAPP_PREFIX = re.compile(r"\s*whatsapp\s*:", re.IGNORECASE)


def is_whatsapp_address(address: str) -> bool:
    """True for Twilio WhatsApp addresses (`whatsapp:+358…`), tolerant of case and spaces."""
    return _WHATSAPP_PREFIX.match(address) is not None


def decide(
    content: ContentClass,
    channel: Channel,
    *,
    whatsapp_notices_enabled: bool = False,
    address: str | None = None,
) -> PolicyDecision:
    """Allow or refuse sending `content` over `channel` (to `address`, when known)."""
    if channel is Channel.INBOX:
        return ALLOW
    if content is ContentClass.CLINICAL:
        return PolicyDecision(False, RefusalReason.CLINICAL_CONTENT)
    if content is ContentClass.FREE_TEXT:
        return PolicyDecision(False, RefusalReason.FREE_TEXT)
    # From here on: a server-rendered notice on a plain channel.
    if channel is Channel.SMS and address is not None and is_whatsapp_address(address):
        return PolicyDecision(False, RefusalReason.WHATSAPP_ADDRESS_ON_SMS)
    if channel is Channel.WHATSAPP:
        if not whatsapp_notices_enabled:
            return PolicyDecision(False, RefusalReason.WHATSAPP_NOTICES_DISABLED)
        if address is not None and not is_whatsapp_address(address):
            return PolicyDecision(False, RefusalReason.NOT_A_WHATSAPP_ADDRESS)
    return ALLOW
