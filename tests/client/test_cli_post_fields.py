"""The CLI writes homework logs as docs/protocol.md §4.5 has writers write them."""

from __future__ import annotations

import argparse
import datetime

import pytest

from secure_msg.cli_client import _post_fields
from secure_msg.client import ClientError
from secure_msg.crypto.envelope import KIND_IDS
from secure_msg.crypto.payloads import decode_payload, encode_payload

HOMEWORK = "E3" * 16


def _log(**given: str | None) -> argparse.Namespace:
    args = {"kind": "homework-log", "file": None, "text": "Meni hyvin", "done": "yes",
            "homework": HOMEWORK, "date": ""}
    return argparse.Namespace(**{**args, **given})


def test_a_log_without_date_is_dated_today_with_a_lowercase_id() -> None:
    """0.1.0 wrote `"date": ""` without --date and the id as typed."""
    fields = _post_fields(_log())
    assert fields == {"homework": "e3" * 16, "done": True, "how": "Meni hyvin",
                      "date": datetime.date.today().isoformat()}
    plaintext = encode_payload("homework-log", **fields)
    assert decode_payload(KIND_IDS["homework-log"], plaintext) == {"kind": "homework-log",
                                                                   **fields}


@pytest.mark.parametrize("given", [
    {"date": "27.11.2026"}, {"date": "2026-02-30"}, {"date": "20261127"}, {"date": "2026-W48-5"},
    {"homework": None}, {"homework": "e3" * 15}, {"homework": "g3" * 16},
])
def test_a_malformed_date_or_homework_id_is_refused_before_anything_is_sealed(
    given: dict[str, str | None],
) -> None:
    with pytest.raises(ClientError) as err:
        _post_fields(_log(**given))
    assert err.value.code == "bad-arguments"


def test_a_given_date_is_kept() -> None:
    assert _post_fields(_log(date="2026-11-27"))["date"] == "2026-11-27"
