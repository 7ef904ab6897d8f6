/**
 * `merge(local, stored)` of docs/protocol.md §6.5, pure and deterministic: one client state from
 * what this client holds and what the server kept, and the conflicts a person must hear about.
 * Both states are in their JSON shape (crypto/client-state.mjs `parseState`).
 */

/** @typedef {import('../crypto/client-state.mjs').ClientState} ClientState */
/** @typedef {import('../crypto/client-state.mjs').StatePin} StatePin */
/** @typedef {import('../crypto/client-state.mjs').StateCheckpoint} StateCheckpoint */

/**
 * @param {ClientState} local @param {ClientState} stored
 * @returns {{state: ClientState, pinConflicts: string[], checkpointConflicts: string[]}} conflicts as sorted ids
 */
export function merge(local, stored) {
  /** @type {string[]} */ const pinConflicts = [];
  /** @type {string[]} */ const checkpointConflicts = [];
  /** @type {ClientState} */
  const state = { v: 1, pins: {}, checkpoints: {}, sealed_to: {} };
  for (const id of unionKeys(local.pins, stored.pins)) {
    const [pin, conflict] = mergePin(local.pins[id], stored.pins[id]);
    state.pins[id] = pin;
    if (conflict) pinConflicts.push(id);
  }
  for (const id of unionKeys(local.checkpoints, stored.checkpoints)) {
    const [checkpoint, conflict] = mergeCheckpoint(local.checkpoints[id], stored.checkpoints[id]);
    state.checkpoints[id] = checkpoint;
    if (conflict) checkpointConflicts.push(id);
  }
  for (const id of unionKeys(local.sealed_to, stored.sealed_to)) {
    state.sealed_to[id] = [...new Set([...(local.sealed_to[id] ?? []), ...(stored.sealed_to[id] ?? [])])].sort();
  }
  return { state, pinConflicts, checkpointConflicts };
}

/** @param {Record<string, unknown>} a @param {Record<string, unknown>} b @returns {string[]} sorted */
const unionKeys = (a, b) => [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();

/** @param {StatePin} p @returns {StatePin} a copy with every member, key_conflict false when missing */
const copyPin = (p) => ({ ...p, roles: { ...p.roles }, key_conflict: p.key_conflict ?? false });

/**
 * @param {StatePin | undefined} local @param {StatePin | undefined} stored
 * @returns {[StatePin, boolean]} the pin and whether it is a pin-conflict
 */
function mergePin(local, stored) {
  if (!local || !stored) return [copyPin(/** @type {StatePin} */ (local ?? stored)), false];
  if (local.identity_key !== stored.identity_key) {
    // Exactly one side verified in person: that side's key is the one a person checked.
    if (local.verified !== stored.verified) return [copyPin(local.verified ? local : stored), false];
    return [{ ...copyPin(stored), verified: false, key_conflict: true }, true];
  }
  const verified = local.verified || stored.verified;
  const eitherConflict = Boolean(local.key_conflict) || Boolean(stored.key_conflict);
  return [{
    identity_key: stored.identity_key,
    verified,
    name: stored.name,
    name_pinned: stored.name_pinned,
    // Stored roles win booklet by booklet; roles only local knows are added.
    roles: { ...local.roles, ...stored.roles },
    key_conflict: eitherConflict && !verified,
  }, false];
}

/**
 * @param {StateCheckpoint | undefined} local @param {StateCheckpoint | undefined} stored
 * @returns {[StateCheckpoint, boolean]} the checkpoint and whether it is a checkpoint-conflict
 */
function mergeCheckpoint(local, stored) {
  if (!local || !stored) return [copyCheckpoint(/** @type {StateCheckpoint} */ (local ?? stored)), false];
  const [mine, theirs] = [copyCheckpoint(local), copyCheckpoint(stored)];
  // A history accepted after a restore replaces what was seen before it, even further along:
  // otherwise the pre-restore checkpoint would come back from another device (§6.5).
  if (mine.accepted !== theirs.accepted) return [mine.accepted > theirs.accepted ? mine : theirs, false];
  if (mine.seq !== theirs.seq) return [mine.seq > theirs.seq ? mine : theirs, false];
  if (mine.entry_hash !== theirs.entry_hash) return [mine, true];
  return [mine.joined_seq >= theirs.joined_seq ? mine : theirs, false];
}

/** @param {StateCheckpoint} c @returns {StateCheckpoint} a copy with every member, accepted 0 when missing */
const copyCheckpoint = (c) => ({ ...c, accepted: c.accepted ?? 0 });
