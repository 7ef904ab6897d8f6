"""docs/architecture.md draws both lifecycles as Mermaid state diagrams: each drawing must have
exactly the edges of its transition table, start at the status new rows get, and end at the
statuses that never move again, so the drawing and the code cannot drift apart."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

import pytest

from secure_msg.model import (
    appointments,
    booklet_lifecycle,
    caregiver_terms,
    document_requests,
    notices,
)
from secure_msg.model.lifecycle import edges

DOC = Path(__file__).parents[2] / "docs" / "architecture.md"
START = "[*]"
# Which table a block draws: its `%% model/<name>.py TRANSITIONS` comment.
TABLE = re.compile(r"^%%\s*model/(\w+)\.py TRANSITIONS\s*$")
EDGE = re.compile(r"^(\[\*\]|\w+)\s*-->\s*(\[\*\]|\w+)\s*(?::.*)?$")

S = TypeVar("S", bound=enum.StrEnum)


def _drawable(table: Mapping[S, frozenset[S]], initial: S) -> set[tuple[str, str]]:
    """The table as the drawing has it: its moves, plus [*] into the status a new row gets
    and out of every status that never moves again."""
    return ({(a.value, b.value) for a, b in edges(table)} | {(START, initial.value)}
            | {(s.value, START) for s, targets in table.items() if not targets})


TABLES = {
    "appointments": _drawable(appointments.TRANSITIONS, appointments.AppointmentStatus.SCHEDULED),
    "notices": _drawable(notices.TRANSITIONS, notices.NoticeStatus.QUEUED),
    "caregiver_terms": _drawable(caregiver_terms.TRANSITIONS,
                                 caregiver_terms.TermsStatus.INVITED),
    "booklet_lifecycle": _drawable(booklet_lifecycle.TRANSITIONS,
                                   booklet_lifecycle.BookletStatus.OPEN),
    "document_requests": _drawable(document_requests.TRANSITIONS,
                                   document_requests.RequestStatus.OPEN),
}


def _diagrams(text: str) -> dict[str, set[tuple[str, str]]]:
    """Each stateDiagram-v2 block's edges as (from, to) names, by the table it names."""
    found: dict[str, set[tuple[str, str]]] = {}
    for block in re.findall(r"^```mermaid\n(.*?)^```", text, flags=re.M | re.S):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if not lines or lines[0] != "stateDiagram-v2":
            continue
        names = [m.group(1) for line in lines if (m := TABLE.match(line))]
        assert len(names) == 1, f"a state diagram must name its table once: {lines[:2]}"
        assert names[0] not in found, f"{names[0]} is drawn twice"
        drawn: set[tuple[str, str]] = set()
        for line in lines[1:]:
            if "-->" in line:  # every arrow must parse: none may hide from the comparison
                match = EDGE.match(line)
                assert match, f"cannot read the edge {line!r}"
                drawn.add((match.group(1), match.group(2)))
        found[names[0]] = drawn
    return found


DIAGRAMS = _diagrams(DOC.read_text(encoding="utf-8"))


def test_each_table_is_drawn_once() -> None:
    assert set(DIAGRAMS) == set(TABLES)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_the_drawing_is_the_table(name: str) -> None:
    drawn, table = DIAGRAMS[name], TABLES[name]
    assert drawn - table == set(), "drawn but not in the table"
    assert table - drawn == set(), "in the table but not drawn"


def test_a_drawing_that_drifts_is_caught() -> None:
    """The parser reads what the test compares: a missing or extra arrow changes the edges."""
    doc = DOC.read_text(encoding="utf-8")
    dropped = _diagrams(doc.replace("    sent --> delivered : status callback or poll\n", ""))
    assert ("sent", "delivered") not in dropped["notices"]
    added = _diagrams(doc.replace("    attended --> [*]\n",
                                  "    attended --> [*]\n    attended --> no_show\n"))
    assert ("attended", "no_show") in added["appointments"]
