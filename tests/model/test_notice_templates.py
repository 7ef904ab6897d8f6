"""Notice templates: typed slots, default texts, Helsinki dates and SMS segments."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from secure_msg.channels.segments import Encoding, analyze
from secure_msg.model.notice_templates import (
    CANCEL_CHANNELS,
    SLOTS,
    Language,
    NoticeKind,
    NoticeRenderer,
    TemplateError,
    TemplateSet,
    default_templates_dir,
    format_date,
    format_time,
)

WHEN = datetime(2025, 5, 13, 11, 30, tzinfo=UTC)  # Tue 13 May, 14.30 in Helsinki
LINK = "https://viestit.example.fi/invite/" + "Ab3_-" * 9  # a realistic 45-char token
GOOD: dict[str, object] = {"date": WHEN, "time": WHEN, "code": "4821", "link": LINK,
                           "via": "sms"}
FORBIDDEN = (
    "terap", "therap", "klinik", "clinic", "lapsi", "lapse", "barn", "child", "kuntout",
    "rehab", "diagno", "kela", "hoito", "vård", "treatment",
    # health words: a notice about a doctor or a hospital says the family sees one (DESIGN §1.3)
    "lääkär", "läkar", "doctor", "physician", "sairaal", "sjukhus", "hospital", "terveys",
    "health", "potila", "patient", "remiss", "referral",
)  # fmt: skip


@pytest.fixture(scope="module")
def renderer() -> NoticeRenderer:
    return NoticeRenderer.load()


def slots_for(kind: NoticeKind, **override: object) -> dict[str, object]:
    values = {s.value: GOOD[s.value] for s in SLOTS[kind]}
    values.update(override)
    return values


def raw_templates(language: Language) -> dict[str, str]:
    texts = TemplateSet.load(default_templates_dir() / f"{language}.toml").texts
    return {kind.value: text for kind, text in texts.items()}


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("kind", list(NoticeKind))
def test_default_text_is_one_gsm7_segment(
    renderer: NoticeRenderer, language: Language, kind: NoticeKind
) -> None:
    """Every default notice renders as GSM-7 in a single SMS segment with realistic slots."""
    text = renderer.render(kind, language, slots_for(kind))
    info = analyze(text)
    assert info.encoding is Encoding.GSM7, text
    assert info.segments == 1, (info, text)


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("via", sorted(CANCEL_CHANNELS))
def test_family_cancelled_alert_fits_one_segment_for_every_channel(
    renderer: NoticeRenderer, language: Language, via: str
) -> None:
    """The therapist's alert stays one GSM-7 segment whichever channel it names."""
    kind = NoticeKind.FAMILY_CANCELLED_ALERT
    info = analyze(renderer.render(kind, language, slots_for(kind, via=via)))
    assert (info.encoding, info.segments) == (Encoding.GSM7, 1)


@pytest.mark.parametrize(
    ("language", "via", "expected", "wrong"),
    [
        (Language.FI, "sms", "peruttiin tekstiviestillä", "puhelimitse"),
        (Language.FI, "voice", "peruttiin puhelimitse", "tekstiviesti"),
        (Language.FI, "api", "peruttiin sovelluksessa", "tekstiviesti"),
        (Language.SV, "sms", "avbokades per sms", "telefon"),
        (Language.SV, "voice", "avbokades per telefon", "sms"),
        (Language.SV, "api", "avbokades i appen", "sms"),
        (Language.EN, "sms", "cancelled by text message", "phone"),
        (Language.EN, "voice", "cancelled by phone", "text message"),
        (Language.EN, "api", "cancelled in the app", "text message"),
    ],
)
def test_family_cancelled_alert_names_the_channel(
    renderer: NoticeRenderer, language: Language, via: str, expected: str, wrong: str
) -> None:
    """The therapist's alert says how the family cancelled: text message, phone or the app."""
    kind = NoticeKind.FAMILY_CANCELLED_ALERT
    text = renderer.render(kind, language, slots_for(kind, via=via))
    assert expected in text
    assert wrong not in text.replace(expected, "")
    assert "SMS" not in text


@pytest.mark.parametrize("language", list(Language))
def test_opt_out_alert_names_stop_and_the_booklet_link_only(
    renderer: NoticeRenderer, language: Language
) -> None:
    """The therapist's STOP alert says STOP and carries the booklet's link, in one segment."""
    link = "https://viestit.example.fi/#/b/" + "0123456789abcdef" * 2
    text = renderer.render(NoticeKind.OPT_OUT_ALERT, language, {"link": link})
    assert "STOP" in text
    assert text.endswith(link)
    assert analyze(text).segments == 1


@pytest.mark.parametrize("bad", ["email", "SMS", "by SMS", "", 1, None, "sms "])
def test_via_slot_takes_only_known_channels(renderer: NoticeRenderer, bad: object) -> None:
    """A `via` that is not sms, voice or api is refused, so no free text rides in it."""
    kind = NoticeKind.FAMILY_CANCELLED_ALERT
    with pytest.raises(TemplateError, match="via"):
        renderer.render(kind, Language.FI, slots_for(kind, via=bad))


@pytest.mark.parametrize("language", list(Language))
def test_default_texts_reveal_nothing(language: Language) -> None:
    """No default text names a child, a therapy, a practice or a payer (DESIGN §1.3)."""
    for kind, text in raw_templates(language).items():
        lowered = text.casefold()
        assert not any(word in lowered for word in FORBIDDEN), (kind, text)


@pytest.mark.parametrize(
    ("language", "asks_for", "where"),
    [(Language.FI, "asiakirja", "vihossa"), (Language.SV, "handling", "i häftet"),
     (Language.EN, "document", "in the booklet")],
)
def test_period_ending_asks_for_documents_and_names_no_doctor(
    renderer: NoticeRenderer, language: Language, asks_for: str, where: str
) -> None:
    """The period-ending notice asks for the documents in time, naming no doctor (issue 15),
    and says where to ask: in the booklet, where a guardian's request reaches the therapist
    (issue 17, item 2)."""
    text = renderer.render(NoticeKind.PERIOD_ENDING, language, slots_for(NoticeKind.PERIOD_ENDING))
    assert asks_for in text
    assert where in text
    assert not any(word in text.casefold() for word in FORBIDDEN), text


@pytest.mark.parametrize("sender_name", [None, "Palvelu Oy", "x" * 30])
def test_neutral_reply_is_one_text_in_every_language_in_one_segment(
    sender_name: str | None,
) -> None:
    """The neutral SMS reply is the same for everyone: fi, sv and en in that order, in one GSM-7
    segment even with the longest sender name (a second segment is a second SMS to pay)."""
    r = NoticeRenderer.load(sender_name=sender_name)
    text = r.render_every_language(NoticeKind.NEUTRAL_REPLY)
    parts = [r.render(NoticeKind.NEUTRAL_REPLY, lang, {}).removeprefix(f"{sender_name}: ")
             for lang in (Language.FI, Language.SV, Language.EN)]
    assert text == (f"{sender_name}: " if sender_name else "") + "\n".join(parts)
    info = analyze(text)
    assert (info.encoding, info.segments) == (Encoding.GSM7, 1), (info, text)


def test_the_unknown_callers_message_is_said_in_every_language() -> None:
    """The call answer for anyone without a menu: each language's text, fi, sv, en."""
    r = NoticeRenderer.load(sender_name="Palvelu Oy")
    assert r.in_every_language(NoticeKind.VOICE_UNKNOWN) == [
        (lang, r.render(NoticeKind.VOICE_UNKNOWN, lang, {}))
        for lang in (Language.FI, Language.SV, Language.EN)]
    with pytest.raises(TemplateError, match="slots"):
        r.in_every_language(NoticeKind.REMINDER)  # an answer to anyone carries no slot


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (Language.FI, "PERU 4821"),
        (Language.SV, "AVBOKA 4821"),
        (Language.EN, "reply PERU 4821"),
    ],
)
def test_reminder_tells_the_cancel_keyword(
    renderer: NoticeRenderer, language: Language, expected: str
) -> None:
    """The reminder gives the cancel word and code; never the opt-out word CANCEL."""
    text = renderer.render(NoticeKind.REMINDER, language, slots_for(NoticeKind.REMINDER))
    assert expected in text
    assert "CANCEL" not in text.upper().replace("CANCELLED", "")


@pytest.mark.parametrize(
    ("language", "date_text", "time_text"),
    [
        (Language.FI, "ti 13.5.2025", "14.30"),
        (Language.SV, "tis 13.5.2025", "14.30"),
        (Language.EN, "Tue 13 May 2025", "14:30"),
    ],
)
def test_rendered_dates_are_helsinki_local(
    renderer: NoticeRenderer, language: Language, date_text: str, time_text: str
) -> None:
    """Date and time slots show Helsinki wall-clock time in each language's format."""
    text = renderer.render(
        NoticeKind.CANCELLED_BY_THERAPIST, language, {"date": WHEN, "time": WHEN}
    )
    assert date_text in text
    assert time_text in text


@pytest.mark.parametrize(
    ("utc", "expected_date", "expected_time"),
    [
        (datetime(2025, 1, 15, 12, 0, tzinfo=UTC), "ke 15.1.2025", "14.00"),  # EET +2
        (datetime(2025, 7, 15, 12, 0, tzinfo=UTC), "ti 15.7.2025", "15.00"),  # EEST +3
        (datetime(2025, 3, 30, 0, 30, tzinfo=UTC), "su 30.3.2025", "02.30"),  # before the switch
        (datetime(2025, 3, 30, 1, 30, tzinfo=UTC), "su 30.3.2025", "04.30"),  # after the switch
        (datetime(2025, 5, 13, 22, 30, tzinfo=UTC), "ke 14.5.2025", "01.30"),  # next day locally
        (
            datetime(2025, 5, 13, 14, 30, tzinfo=timezone(timedelta(hours=3))),
            "ti 13.5.2025",
            "14.30",
        ),
    ],
)
def test_helsinki_conversion(utc: datetime, expected_date: str, expected_time: str) -> None:
    """Conversion follows Europe/Helsinki including the DST switch and date rollover."""
    assert format_date(utc, Language.FI) == expected_date
    assert format_time(utc, Language.FI) == expected_time


@pytest.mark.parametrize(
    ("slot", "bad"),
    [
        ("date", "13.5.2025"),
        ("date", "PERU soita minulle"),
        ("date", date(2025, 5, 13)),
        ("date", datetime(2025, 5, 13, 11, 30)),  # naive
        ("time", "14.30"),
        ("time", 1430),
        ("time", None),
        ("code", 4821),
        ("code", "12"),
        ("code", "123456789"),
        ("code", "48a1"),
        ("code", "4821 soita"),
        ("code", "٤٨٢١"),  # Arabic-Indic digits
        ("code", "４８２１"),  # full-width digits
        ("code", " 4821"),
        ("link", "ftp://viestit.example.fi/x"),
        ("link", "javascript:alert(1)"),
        ("link", "https://viestit.example.fi/x y"),
        ("link", "https://viestit.example.fi/lapsen-nimi-ä"),
        ("link", "https://"),
        ("link", "https://user:pw@viestit.example.fi/x"),
        ("link", "viestit.example.fi/x"),
        ("link", "https://viestit.example.fi/" + "a" * 200),
        ("link", "https://viestit.example.fi/x\nHei"),
        ("link", b"https://viestit.example.fi/x"),
    ],
)
def test_bad_slot_values_are_refused(renderer: NoticeRenderer, slot: str, bad: object) -> None:
    """A value that is not of its slot's type is refused, so no free text gets through."""
    kind = NoticeKind.REMINDER if slot != "link" else NoticeKind.INVITATION
    with pytest.raises(TemplateError, match=slot):
        renderer.render(kind, Language.FI, slots_for(kind, **{slot: bad}))


def test_unknown_slot_is_refused(renderer: NoticeRenderer) -> None:
    """A slot the template does not declare is refused, even with a harmless value."""
    with pytest.raises(TemplateError, match="unknown slots"):
        renderer.render(NoticeKind.INVITATION, Language.FI, {"link": LINK, "code": "4821"})
    with pytest.raises(TemplateError, match="unknown slots"):
        renderer.render(NoticeKind.NEUTRAL_REPLY, Language.FI, {"name": "Matti"})


def test_missing_slot_is_refused(renderer: NoticeRenderer) -> None:
    """A declared slot without a value is refused."""
    with pytest.raises(TemplateError, match="missing slots"):
        renderer.render(NoticeKind.REMINDER, Language.SV, {"date": WHEN, "time": WHEN})


def test_link_origin_restricts_links() -> None:
    """With a configured public URL, links elsewhere are refused."""
    r = NoticeRenderer.load(link_origin="https://viestit.example.fi")
    assert LINK in r.render(NoticeKind.NEW_ENTRY_PING, Language.EN, {"link": LINK})
    for other in ("https://evil.example/x", "https://viestit.example.fi.evil.example/x"):
        with pytest.raises(TemplateError, match="public URL"):
            r.render(NoticeKind.NEW_ENTRY_PING, Language.EN, {"link": other})


def test_sender_name_prefixes_texts_but_not_voice() -> None:
    """An opted-in sender name starts SMS texts; voice prompts stay as they are."""
    r = NoticeRenderer.load(sender_name="Palvelu Oy")
    sms = r.render(NoticeKind.NEUTRAL_REPLY, Language.FI, {})
    voice = r.render(NoticeKind.VOICE_UNKNOWN, Language.FI, {})
    assert sms.startswith("Palvelu Oy: ")
    assert not voice.startswith("Palvelu Oy")
    assert NoticeRenderer.load().render(NoticeKind.NEUTRAL_REPLY, Language.FI, {}) == sms[12:]


@pytest.mark.parametrize("name", ["", "x" * 31, "https://x.fi", "Name 😀", "A\nB", "Šárka"])
def test_bad_sender_names_are_refused(name: str) -> None:
    """A sender name must be short plain GSM-7 text, not a URL or a line break."""
    with pytest.raises(TemplateError, match="sender_name"):
        NoticeRenderer.load(sender_name=name)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"reminder": None}, "missing"),
        ({"reminder": "  "}, "missing"),
        ({"greeting": "Hei"}, "unknown template kinds"),
        ({"invitation": "Hei {link} {code}"}, "exactly"),
        ({"invitation": "Hei"}, "exactly"),
        ({"invitation": "Hei {name} {link}"}, "not a plain slot"),
        ({"period_ending": "Loppuu {date:%Y}"}, "not a plain slot"),
        ({"period_ending": "Loppuu {date!r}"}, "not a plain slot"),
        ({"new_entry_ping": "Uusi {link.host}"}, "not a plain slot"),
        ({"neutral_reply": "Hei {}"}, "not a plain slot"),
        ({"neutral_reply": "Hei {"}, "neutral_reply"),
    ],
)
def test_template_validation(change: dict[str, Any], message: str) -> None:
    """Template sets with missing/extra kinds or wrong, formatted or unknown slots are refused."""
    raw: dict[str, Any] = dict(raw_templates(Language.FI))
    for key, value in change.items():
        if value is None:
            del raw[key]
        else:
            raw[key] = value
    with pytest.raises(TemplateError, match=message):
        TemplateSet.from_mapping(Language.FI, raw)


def test_literal_braces_are_allowed() -> None:
    """Doubled braces are literal text, not slots."""
    raw = raw_templates(Language.EN)
    raw["neutral_reply"] = "Thanks {{sic}}"
    assert TemplateSet.from_mapping(Language.EN, raw).texts[NoticeKind.NEUTRAL_REPLY]


def test_language_mismatch_in_file_is_refused(tmp_path: Path) -> None:
    """A fi.toml declaring another language is a configuration error."""
    for lang in Language:
        shutil.copy(default_templates_dir() / f"{lang}.toml", tmp_path / f"{lang}.toml")
    text = (tmp_path / "fi.toml").read_text(encoding="utf-8")
    (tmp_path / "fi.toml").write_text(text.replace('language = "fi"', 'language = "sv"'))
    with pytest.raises(TemplateError, match="declares language"):
        NoticeRenderer.load(tmp_path)


def test_file_without_templates_table_is_refused(tmp_path: Path) -> None:
    """A template file must have a [templates] table."""
    path = tmp_path / "fi.toml"
    path.write_text('language = "fi"\n', encoding="utf-8")
    with pytest.raises(TemplateError, match=r"\[templates\]"):
        TemplateSet.load(path)
