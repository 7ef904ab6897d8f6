"""The channel policy: content class x channel → allow or refuse, in one table."""

from __future__ import annotations

import itertools

import pytest

from secure_msg.model.channel_policy import (
    CHANNEL_DISABLED_PROBLEM,
    CONTENT_REFUSED_PROBLEM,
    Channel,
    ContentClass,
    RefusalReason,
    decide,
    is_whatsapp_address,
)

CL, FT, NO = ContentClass.CLINICAL, ContentClass.FREE_TEXT, ContentClass.NOTICE
INBOX, SMS, EMAIL, WA = Channel.INBOX, Channel.SMS, Channel.EMAIL, Channel.WHATSAPP
R = RefusalReason

# (content, channel, whatsapp enabled) -> refusal reason, or None for allowed.
TABLE: dict[tuple[ContentClass, Channel, bool], RefusalReason | None] = {
    (CL, INBOX, False): None,
    (FT, INBOX, False): None,
    (NO, INBOX, False): None,
    (CL, SMS, False): R.CLINICAL_CONTENT,
    (FT, SMS, False): R.FREE_TEXT,
    (NO, SMS, False): None,
    (CL, EMAIL, False): R.CLINICAL_CONTENT,
    (FT, EMAIL, False): R.FREE_TEXT,
    (NO, EMAIL, False): None,
    (CL, WA, False): R.CLINICAL_CONTENT,
    (FT, WA, False): R.FREE_TEXT,
    (NO, WA, False): R.WHATSAPP_NOTICES_DISABLED,
    (CL, INBOX, True): None,
    (FT, INBOX, True): None,
    (NO, INBOX, True): None,
    (CL, SMS, True): R.CLINICAL_CONTENT,
    (FT, SMS, True): R.FREE_TEXT,
    (NO, SMS, True): None,
    (CL, EMAIL, True): R.CLINICAL_CONTENT,
    (FT, EMAIL, True): R.FREE_TEXT,
    (NO, EMAIL, True): None,
    (CL, WA, True): R.CLINICAL_CONTENT,  # enabling WhatsApp never lets content through
    (FT, WA, True): R.FREE_TEXT,
    (NO, WA, True): None,
}


def test_table_covers_every_combination() -> None:
    """The table lists every content class x channel x WhatsApp setting exactly once."""
    assert set(TABLE) == set(itertools.product(ContentClass, Channel, (False, True)))


@pytest.mark.parametrize(("key", "reason"), list(TABLE.items()), ids=str)
def test_policy_table(
    key: tuple[ContentClass, Channel, bool], reason: RefusalReason | None
) -> None:
    """Each combination is allowed or refused with exactly the reason in the table."""
    content, channel, enabled = key
    decision = decide(content, channel, whatsapp_notices_enabled=enabled)
    assert decision.allowed is (reason is None)
    assert decision.reason is reason


def test_refusals_map_to_stable_problem_types() -> None:
    """Content refusals are clinical-content-refused; disabled WhatsApp is channel-disabled."""
    assert decide(CL, SMS).problem_type == CONTENT_REFUSED_PROBLEM == "clinical-content-refused"
    assert decide(FT, EMAIL).problem_type == CONTENT_REFUSED_PROBLEM
    assert decide(NO, WA).problem_type == CHANNEL_DISABLED_PROBLEM
    assert decide(NO, SMS).problem_type is None
    assert decide(NO, SMS).detail is None
    assert decide(CL, SMS).detail  # a user-facing sentence exists for every refusal


@pytest.mark.parametrize(
    "address",
    ["whatsapp:+358401234567", "WhatsApp:+358401234567", " whatsapp :+358401234567"],
)
def test_whatsapp_address_never_goes_by_sms(address: str) -> None:
    """A notice to a whatsapp: address on the SMS channel is refused, in any spelling."""
    assert is_whatsapp_address(address)
    decision = decide(NO, SMS, address=address, whatsapp_notices_enabled=True)
    assert decision.reason is R.WHATSAPP_ADDRESS_ON_SMS
    assert decision.problem_type == CONTENT_REFUSED_PROBLEM


@pytest.mark.parametrize("address", ["+358401234567", "358401234567", "what+358", "sms:+358"])
def test_plain_numbers_are_not_whatsapp(address: str) -> None:
    """Ordinary numbers are not WhatsApp addresses and pass as SMS notices."""
    assert not is_whatsapp_address(address)
    assert decide(NO, SMS, address=address).allowed


def test_whatsapp_channel_needs_whatsapp_address() -> None:
    """With WhatsApp enabled, a notice still needs a whatsapp: address on that channel."""
    assert decide(NO, WA, whatsapp_notices_enabled=True, address="whatsapp:+3584").allowed
    refused = decide(NO, WA, whatsapp_notices_enabled=True, address="+3584")
    assert refused.reason is R.NOT_A_WHATSAPP_ADDRESS
