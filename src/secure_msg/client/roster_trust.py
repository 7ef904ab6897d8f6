"""Which of a booklet's listed members the therapist vouches for (docs/protocol.md §6.6, §6.7).

Pure: given the members as checked against their pins, the server's roster answer, the
therapist's pinned key and the highest roster version seen, it says who is vouched for (sealed
to without asking), who is refused (never sealed to) and whether the roster itself failed. The
therapist's side, computing the roster to sign next, is here too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from secure_msg.client.http import b64d
from secure_msg.crypto import roster as r
from secure_msg.crypto.errors import ProtocolError


class Listed(Protocol):
    """What this module needs of a member as listed and checked against its pin."""

    @property
    def account_id(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def identity_key(self) -> bytes: ...
    @property
    def removed(self) -> bool: ...
    @property
    def pinned_role(self) -> str: ...


@dataclass(frozen=True)
class RosterView:
    roster: r.Roster | None  # the verified roster, or None (none stored, or it failed)
    stored_version: int  # what the server stores (the compare-and-swap base)
    vouched: frozenset[str] = frozenset()  # account ids sealed to without asking
    via_invitation: frozenset[str] = frozenset()  # vouched for by a join proof only
    refused: dict[str, str] = field(default_factory=dict)  # account id → code
    problem: str | None = None  # the roster's own failed check: no sealing in this booklet
    invitations: dict[str, r.Invitation] = field(default_factory=dict)  # by member, verified

    @property
    def blocks(self) -> bool:
        return self.problem is not None or bool(self.refused)


def therapist_of(members: Sequence[Listed], me: str) -> Listed | None:
    """The current member first seen as the booklet's therapist (the pinned role counts). A
    client that first saw its own account listed as therapist beside the one who is does not
    take itself for her (a server's relabelling of the reader)."""
    found = [m for m in members if not m.removed and m.pinned_role == "therapist"]
    if len(found) > 1:
        found = [m for m in found if m.account_id != me]
    return found[0] if len(found) == 1 else None


def _vouched_by_join(booklet: bytes, therapist: Listed, m: Listed, join: dict[str, Any] | None,
                     roster_created: int | None) -> r.Invitation | None:
    """The member's verified invitation if her join proof vouches for her (§6.7), else None."""
    if join is None:
        return None
    try:
        inv = r.verify_invitation(b64d(join["invitation"]),
                                  therapist_identity_key=therapist.identity_key,
                                  booklet_id=booklet,
                                  therapist_id=bytes.fromhex(therapist.account_id))
        r.verify_join_proof(b64d(join["proof"]), inv, member_id=bytes.fromhex(m.account_id),
                            member_ik=m.identity_key)
    except (ProtocolError, ValueError, KeyError, TypeError):
        return None
    if roster_created is not None and inv.created_at <= roster_created:
        return None  # a roster signed after the invitation left her out: removed
    if inv.role != m.role:
        return None
    return inv


def evaluate(booklet_id: str, members: Sequence[Listed], answer: dict[str, Any], *,
             me: str, highest_seen: int, now_ms: int) -> RosterView:
    """`answer` is GET /api/booklets/{id}/roster's; `members` the current members (pins
    checked). My own account is always vouched for by me."""
    booklet = bytes.fromhex(booklet_id)
    current = [m for m in members if not m.removed]
    stored = int(answer.get("version") or 0)
    therapist = therapist_of(current, me)
    if therapist is None:
        return RosterView(None, stored, problem=None if answer.get("roster") is None
                          else "wrong-author")
    ros: r.Roster | None = None
    if answer.get("roster") is not None:
        try:
            ros = r.verify_roster(b64d(answer["roster"]),
                                  therapist_identity_key=therapist.identity_key,
                                  booklet_id=booklet,
                                  therapist_id=bytes.fromhex(therapist.account_id),
                                  highest_seen=highest_seen)
        except ProtocolError as exc:
            return RosterView(None, stored, problem=exc.code)
        except ValueError:
            return RosterView(None, stored, problem="malformed")
    joins = {j.get("account_id"): j for j in answer.get("joins") or [] if isinstance(j, dict)}
    vouched, via_inv, refused = {me}, set(), {}
    invitations: dict[str, r.Invitation] = {}
    for m in current:
        if m.account_id == me:
            continue
        code = "not-in-roster"
        if ros is not None:
            try:
                r.check_member(ros, account_id=bytes.fromhex(m.account_id),
                               identity_key=m.identity_key, role=m.role, now_ms=now_ms)
                vouched.add(m.account_id)
                continue
            except ProtocolError as exc:
                code = exc.code
        inv = _vouched_by_join(booklet, therapist, m, joins.get(m.account_id),
                               ros.created_at if ros else None)
        if inv is not None:
            invitations[m.account_id] = inv
        elif ros is not None:
            refused[m.account_id] = code
    # one invitation joins one member: a second account with the same invitation is refused
    uses = Counter(inv.invitation_ik for inv in invitations.values())
    for account, inv in invitations.items():
        if uses[inv.invitation_ik] > 1:
            refused[account] = "invitation-mismatch"
        else:
            vouched.add(account)
            via_inv.add(account)
    return RosterView(ros, stored, frozenset(vouched), frozenset(via_inv), refused,
                      invitations=invitations)


def next_members(view: RosterView, members: Sequence[Listed], *, me: str,
                 verified: Iterable[str] = (), first_roster_extra: Iterable[str] = ()
                 ) -> list[r.RosterMember]:
    """The roster the therapist (`me`) would sign now (§6.6 "Writing"): the stored roster's
    current members with unchanged keys, members vouched for by a join proof, members she has
    `verified` in person, herself, and when there is no roster yet the members in
    `first_roster_extra` (those her entries were already sealed to)."""
    current = {m.account_id: m for m in members if not m.removed}
    keep: dict[str, r.RosterMember] = {}
    if view.roster is not None:
        for rm in view.roster.members:
            m = current.get(rm.account_id.hex())
            if m is not None and m.identity_key == rm.identity_key and m.role == rm.role:
                keep[m.account_id] = rm
    extra = set(view.via_invitation) | set(verified) | (
        set(first_roster_extra) if view.roster is None else set())
    for account in extra | {me}:
        m = current.get(account)
        if m is not None and account not in keep:
            keep[account] = r.RosterMember(bytes.fromhex(account), m.identity_key, m.role)
    return sorted(keep.values())
