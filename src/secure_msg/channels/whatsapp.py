"""Sending neutral notices by WhatsApp through Twilio's Messages API (DESIGN §5).

WhatsApp allows business-initiated messages only from templates Meta approved, and its policy
forbids health information, so this gateway never sends a body: it sends a Content template
(`ContentSid`, one per notice kind and language, from config) and `ContentVariables`, the JSON of
the notice's typed slot values only (date, time, code, link, via), numbered in the fixed order
date, time, code, link, via as the template's {{1}}, {{2}}, … placeholders (`via` came last, so
the numbers of templates made before it did not move). The text the recipient
reads is the approved template text held by Twilio.

The SDK client and the retry policy are the SMS gateway's (`sms.TwilioMessagesClient`); like the
SMS gateway it logs no address and no slot value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Protocol

from secure_msg.channels.sms import (
    Failed,
    MessageLookup,
    SendResult,
    TwilioMessagesClient,
    TwilioSettings,
)
from secure_msg.channels.sms_retry import FailureKind
from secure_msg.model.channel_policy import is_whatsapp_address
from secure_msg.model.notice_templates import SLOTS, Language, NoticeKind, Slot

CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")
SLOT_ORDER = (Slot.DATE, Slot.TIME, Slot.CODE, Slot.LINK, Slot.VIA)
TemplateKey = tuple[NoticeKind, Language]


def slot_numbering(kind: NoticeKind) -> list[Slot]:
    """The slots of `kind` in template-variable order: index 0 is {{1}}."""
    return [s for s in SLOT_ORDER if s in SLOTS[kind]]


def content_variables(kind: NoticeKind, values: Mapping[str, str]) -> str:
    """ContentVariables for `kind`: {"1": …, "2": …} from the typed slot values, nothing else."""
    order = slot_numbering(kind)
    extra = set(values) - {s.value for s in order}
    if extra:
        raise ValueError(f"{kind}: not a slot of this kind: {sorted(extra)}")
    return json.dumps({str(i): values[s.value] for i, s in enumerate(order, 1)},
                      ensure_ascii=False, separators=(",", ":"))


class WhatsAppSender(MessageLookup, Protocol):
    """Sends one templated notice and reports a typed outcome; never raises for provider trouble.
    A reconcile finds its messages by recipient and sender only (`find` with no body): the text
    is the template's, held by Twilio."""

    def has_template(self, kind: NoticeKind, language: Language) -> bool: ...

    async def send(self, to: str, kind: NoticeKind, language: Language,
                   values: Mapping[str, str], status_callback: str | None = None
                   ) -> SendResult: ...


class WhatsAppGateway(TwilioMessagesClient):
    """WhatsApp notices from `sender` (a `whatsapp:+…` address) with approved Content templates.

    `settings.account.from_number` is not used: the sender is the WhatsApp one.
    """

    _what = "whatsapp"

    def __init__(self, settings: TwilioSettings, sender: str,
                 templates: Mapping[TemplateKey, str], **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        if not is_whatsapp_address(sender):
            raise ValueError("the WhatsApp sender must be a whatsapp: address")
        bad = [k for k, sid in templates.items() if CONTENT_SID.fullmatch(sid) is None]
        if bad:
            raise ValueError(f"not a Content SID for {bad[0][0]}.{bad[0][1]}")
        self._sender = sender
        self._templates = dict(templates)

    def has_template(self, kind: NoticeKind, language: Language) -> bool:
        return (kind, language) in self._templates

    def _sender_filter(self) -> dict[str, str]:
        return {"from_": self._sender}

    def _is_ours(self, message: object) -> bool:
        return True  # filtered by our WhatsApp sender already

    async def send(self, to: str, kind: NoticeKind, language: Language,
                   values: Mapping[str, str], status_callback: str | None = None
                   ) -> SendResult:
        """Send the approved template of `kind` in `language` with the slot `values`."""
        if not is_whatsapp_address(to):
            return Failed(FailureKind.REJECTED, attempts=0)
        sid = self._templates.get((kind, language))
        if sid is None:
            return Failed(FailureKind.NO_TEMPLATE, attempts=0)
        kwargs: dict[str, str] = {
            "to": to, "from_": self._sender, "content_sid": sid,
            "content_variables": content_variables(kind, values),
        }
        if status_callback is not None:
            kwargs["status_callback"] = status_callback
        return await self._send_with_retries(kwargs)

