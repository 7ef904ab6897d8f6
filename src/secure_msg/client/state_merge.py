"""Merging this device's client state with the one stored on the server (docs/protocol.md §6.5
"Merging"). Pure and deterministic: the same two states always give the same bytes."""

from __future__ import annotations

from dataclasses import dataclass, replace

from secure_msg.crypto.client_state import ClientState, StateCheckpoint, StatePin


@dataclass(frozen=True)
class MergeResult:
    """The merged state and what the client must show: accounts whose pins met two identity
    keys (`pin-conflict`), booklets whose checkpoints met two hashes at one sequence
    (`checkpoint-conflict`, shown as `history-rewritten`). Both sorted."""

    state: ClientState
    pin_conflicts: tuple[str, ...] = ()
    checkpoint_conflicts: tuple[str, ...] = ()


def merge(local: ClientState, stored: ClientState) -> MergeResult:
    pins: dict[str, StatePin] = {}
    pin_conflicts: list[str] = []
    for account in sorted(local.pins.keys() | stored.pins.keys()):
        if account not in stored.pins or account not in local.pins:  # one side's: as it is
            pins[account] = local.pins.get(account) or stored.pins[account]
            continue
        pins[account], conflict = merge_pin(local.pins[account], stored.pins[account])
        if conflict:
            pin_conflicts.append(account)

    checkpoints: dict[str, StateCheckpoint] = {}
    checkpoint_conflicts: list[str] = []
    for booklet in sorted(local.checkpoints.keys() | stored.checkpoints.keys()):
        if booklet not in stored.checkpoints or booklet not in local.checkpoints:
            checkpoints[booklet] = local.checkpoints.get(booklet) or stored.checkpoints[booklet]
            continue
        checkpoints[booklet], conflict = merge_checkpoint(
            local.checkpoints[booklet], stored.checkpoints[booklet]
        )
        if conflict:
            checkpoint_conflicts.append(booklet)

    sealed_to = {
        booklet: local.sealed_to.get(booklet, frozenset())
        | stored.sealed_to.get(booklet, frozenset())
        for booklet in sorted(local.sealed_to.keys() | stored.sealed_to.keys())
    }
    return MergeResult(
        ClientState(pins, checkpoints, sealed_to), tuple(pin_conflicts), tuple(checkpoint_conflicts)
    )


def merge_pin(local: StatePin, stored: StatePin) -> tuple[StatePin, bool]:
    """One account's pins from both sides, and whether they met two identity keys."""
    if local.identity_key == stored.identity_key:
        verified = local.verified or stored.verified
        roles = {**local.roles, **stored.roles}  # the stored role wins where both have one
        return StatePin(
            identity_key=stored.identity_key,
            verified=verified,
            name=stored.name,
            name_pinned=stored.name_pinned,
            roles=dict(sorted(roles.items())),
            # Verifying clears a conflict; a merge with the same key only carries it.
            key_conflict=(local.key_conflict or stored.key_conflict) and not verified,
        ), False
    if local.verified != stored.verified:  # a key checked in person beats one trusted on use
        return (local if local.verified else stored), False
    return replace(stored, verified=False, key_conflict=True), True


def merge_checkpoint(
    local: StateCheckpoint, stored: StateCheckpoint
) -> tuple[StateCheckpoint, bool]:
    """One booklet's checkpoints from both sides, and whether they disagree about one entry."""
    if local.accepted != stored.accepted:
        # a history accepted after a restore replaces what was seen before it, even if that
        # reached further: otherwise the pre-restore checkpoint would come back from elsewhere
        return (local if local.accepted > stored.accepted else stored), False
    if local.seq != stored.seq:
        return (local if local.seq > stored.seq else stored), False
    if local.entry_hash != stored.entry_hash:
        return local, True  # two forks at one sequence: keep what this device checked itself
    return (local if local.joined_seq >= stored.joined_seq else stored), False

