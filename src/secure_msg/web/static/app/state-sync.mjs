/**
 * Keeps the signed-in account's pins, checkpoints and record of whom entries were sealed to
 * sealed on the server (docs/protocol.md §6.5), so a new device, another browser and a shared
 * computer (where nothing outlives the page) start from what this account already checked.
 *
 * At sign-in: read the stored state, open it, merge it into what the session holds, and write
 * the result back when it differs (compare-and-swap; a 409 reads, merges and tries again).
 * After each change: write again, debounced. The highest version opened or written is kept on
 * a personal device, so a server that serves an older one is caught (`state-rolled-back`).
 */
import { emptyState, encodeState, openState, sealState } from '../crypto/client-state.mjs';
import { equal, fromBase64url, fromHex, toBase64url } from '../crypto/encoding.mjs';
import { ProtocolError } from '../crypto/errors.mjs';
import { ApiError, api } from './api.mjs';
import { merge } from './state-merge.mjs';

/** @typedef {import('../crypto/client-state.mjs').ClientState} ClientState */
/** @typedef {import('./pins.mjs').Pin} Pin */
/** @typedef {import('./history.mjs').Checkpoint} Checkpoint */
/**
 * @typedef {object} Local what the session holds, in its own shape
 * @property {Record<string, Pin>} pins @property {Record<string, any>} checkpoints
 * @property {Record<string, string[]>} sealedTo
 */
/**
 * @typedef {object} Report what a person should hear about, for this session
 * @property {boolean} rolledBack the server served an older state than this device had seen
 * @property {string | null} unreadable the code of a stored state that did not open
 * @property {string[]} pinConflicts accounts two devices pinned with different keys, neither verified
 * @property {boolean} tooLarge the server refused the state as over its size limit: it stays unsaved
 * @property {boolean} notSaved the server claims a state newer than any this device opened, or the
 *   state could not be sealed: it stays unsaved (never a version taken from the server's number)
 */

const MAX_TRIES = 5;
export const DEBOUNCE_MS = 500;
const ID = /^[0-9a-f]{32}$/;
const HASH = /^[0-9a-f]{64}$/;
const ROLES = new Set(['therapist', 'guardian', 'caregiver']);
const versionKey = (/** @type {string} */ id) => `secure-msg:state-version:${id}`;

/** @type {Report} */
let report = { rolledBack: false, unreadable: null, pinConflicts: [], tooLarge: false, notSaved: false };
/** @type {Set<(r: Report) => void>} */
const listeners = new Set();

/** This session's findings so far. @returns {Report} */
export const stateReport = () => report;

/** Called with the report whenever it changes; returns a function that stops it. @param {(r: Report) => void} fn */
export function onStateReport(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** @param {Partial<Report>} change */
function tell(change) {
  report = { ...report, ...change };
  for (const fn of listeners) fn(report);
}

/** Forget the findings: a new session starts without them. */
export function clearStateReport() {
  report = { rolledBack: false, unreadable: null, pinConflicts: [], tooLarge: false, notSaved: false };
  for (const fn of listeners) fn(report);
}

/**
 * The session's records as §6.5's JSON. Anything a reader would refuse (a damaged record in
 * localStorage, a role v1 does not have) is left out rather than stop every later write.
 * @param {Local} local @returns {ClientState}
 */
export function toWire({ pins, checkpoints, sealedTo }) {
  const out = emptyState();
  for (const [id, p] of Object.entries(pins ?? {})) {
    if (!ID.test(id) || !p || typeof p.ik !== 'string' || !HASH.test(p.ik)) continue;
    const name = p.name === undefined ? null : p.name;
    if (name !== null && typeof name !== 'string') continue;
    const roles = Object.fromEntries(Object.entries(p.roles ?? {}).filter(([b, r]) => ID.test(b) && ROLES.has(r)));
    const verified = p.verified === true;
    out.pins[id] = { identity_key: p.ik, verified, name, name_pinned: p.name !== undefined, roles, key_conflict: !verified && p.keyConflict === true };
  }
  const count = (/** @type {unknown} */ n) => Number.isSafeInteger(n) && /** @type {number} */ (n) >= 0;
  for (const [id, c] of Object.entries(checkpoints ?? {})) {
    const joined = c?.joinedSeq ?? 0;
    const accepted = c?.accepted ?? 0;
    const ok = ID.test(id) && Number.isSafeInteger(c?.seq) && c.seq >= 1 && typeof c.entryHash === 'string'
      && HASH.test(c.entryHash) && count(joined) && count(accepted);
    if (ok) out.checkpoints[id] = { seq: c.seq, entry_hash: c.entryHash, joined_seq: joined, accepted };
  }
  for (const [id, list] of Object.entries(sealedTo ?? {})) {
    if (!ID.test(id) || !Array.isArray(list)) continue;
    out.sealed_to[id] = [...new Set(list.filter((a) => typeof a === 'string' && ID.test(a)))].sort();
  }
  return out;
}

/**
 * §6.5's JSON as the session keeps it: a name never pinned stays absent (the next listing pins
 * it), a key conflict is `keyConflict`.
 * @param {ClientState} wire @returns {Local}
 */
export function fromWire(wire) {
  /** @type {Record<string, Pin>} */
  const pins = {};
  for (const [id, p] of Object.entries(wire.pins)) {
    /** @type {Pin} */
    const pin = { ik: p.identity_key, verified: p.verified, roles: { ...p.roles } };
    if (p.name_pinned) pin.name = p.name;
    if (p.key_conflict) pin.keyConflict = true;
    pins[id] = pin;
  }
  /** @type {Record<string, Checkpoint>} */
  const checkpoints = {};
  for (const [id, c] of Object.entries(wire.checkpoints)) {
    checkpoints[id] = { seq: c.seq, entryHash: c.entry_hash, joinedSeq: c.joined_seq, accepted: c.accepted };
  }
  const sealedTo = Object.fromEntries(Object.entries(wire.sealed_to).map(([id, list]) => [id, [...list]]));
  return { pins, checkpoints, sealedTo };
}

/**
 * @typedef {object} Host the session this sync serves
 * @property {{id: string}} account
 * @property {{accountId: Uint8Array, stateKey: CryptoKey | null}} keys
 * @property {boolean} memoryOnly nothing may be kept on this device (a shared computer)
 * @property {() => Local} read what the session holds now
 * @property {(merged: Local, checkpointConflicts: string[]) => void} adopt replace it with a merge
 * @property {() => boolean} active false once the session has ended
 */

export class StateSync {
  /** @param {Host} host */
  constructor(host) {
    this.host = host;
    /** The version the server said it holds: the base of the next compare-and-swap. @type {number | null} */
    this.base = null;
    /** The encoded state the server holds, when it opened: nothing to write while ours equals it. @type {Uint8Array | null} */
    this.synced = null;
    /** Highest version opened or written, when this device may keep nothing. */
    this.highestInMemory = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    /** @type {Promise<void>} one read or write at a time */
    this.queue = Promise.resolve();
    this.stopped = false;
  }

  /** Read, merge and write back: at sign-in and after a reload. */
  start() {
    return this.#enqueue(true);
  }

  /** Something changed: write it back soon, once the changes settle. */
  changed() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.timer = undefined; this.#enqueue(false); }, DEBOUNCE_MS);
  }

  /** Write what is pending now and wait for it (before logging out). */
  flush() {
    clearTimeout(this.timer);
    this.timer = undefined;
    return this.#enqueue(false);
  }

  /** The session ended: nothing more is read or written. */
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** @param {boolean} read @returns {Promise<void>} */
  #enqueue(read) {
    // A failure (offline, an old server) leaves the state unsynced; the next change tries again.
    this.queue = this.queue.then(() => this.#cycle(read)).catch((e) => {
      // Over the limit, a shared computer would lose what was checked here: say so.
      if (e instanceof ApiError && e.status === 413 && this.#live()) tell({ tooLarge: true });
      else if (!(e instanceof ApiError) && !(e instanceof ProtocolError)) console.error(e);
    });
    return this.queue;
  }

  /** @param {boolean} read */
  async #cycle(read) {
    let mustWrite = false;
    for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
      if (!this.#live()) return;
      if (read || this.base === null) mustWrite = (await this.#readAndMerge()) || mustWrite;
      if (!this.#live()) return;
      const wire = toWire(this.host.read());
      const plain = encodeState(wire);
      if (!mustWrite && this.synced && equal(plain, this.synced)) return;
      const base = /** @type {number} */ (this.base);
      // Above every version this device opened or wrote, so its versions keep rising past a
      // rolled-back copy; never from the server's number, which is only the compare-and-swap's
      // base: following it would let a server spend the version space (§6.5).
      const version = this.#highest() + 1;
      if (version <= base || version > Number.MAX_SAFE_INTEGER) return void tell({ notSaved: true });
      let blob;
      try {
        blob = await sealState(/** @type {CryptoKey} */ (this.host.keys.stateKey), { accountId: this.host.keys.accountId, version, state: wire });
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        return void tell({ notSaved: true });
      }
      if (!this.#live()) return;
      try {
        await api('PUT', '/api/me/state', { base_version: base, version, state: toBase64url(blob) });
      } catch (e) {
        if (e instanceof ApiError && e.status === 409) {
          read = true; // another device wrote first: merge with what it wrote
          continue;
        }
        throw e;
      }
      this.base = version;
      this.synced = plain;
      this.#saw(version);
      return;
    }
  }

  /**
   * Read the stored state and merge it into the session's. True when it must be written back
   * even if the merge equals it (rolled back, or it did not open).
   * @returns {Promise<boolean>}
   */
  async #readAndMerge() {
    const got = await api('GET', '/api/me/state');
    if (!this.#live()) return false;
    if (!Number.isSafeInteger(got?.version) || got.version < 0) throw new ApiError(0, 'malformed', 'state version');
    this.base = got.version;
    this.synced = null;
    if (got.state === null || got.state === undefined) {
      // Nothing stored, though this device saw a version: the server dropped it.
      if (this.#highest() > 0) tell({ rolledBack: true });
      return this.#highest() > 0;
    }
    let opened;
    try {
      opened = await openState(/** @type {CryptoKey} */ (this.host.keys.stateKey), fromHex(this.host.account.id), fromBase64url(got.state));
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      tell({ unreadable: e.code }); // written over with this device's own state
      return true;
    }
    const rolledBack = opened.version < this.#highest();
    if (rolledBack) tell({ rolledBack: true });
    this.#saw(opened.version);
    const local = toWire(this.host.read());
    const merged = merge(local, opened.state);
    this.host.adopt(fromWire(merged.state), merged.checkpointConflicts);
    if (merged.pinConflicts.length) {
      tell({ pinConflicts: [...new Set([...report.pinConflicts, ...merged.pinConflicts])].sort() });
    }
    this.synced = encodeState(opened.state);
    return rolledBack;
  }

  #live() {
    return !this.stopped && this.host.active() && Boolean(this.host.keys.stateKey);
  }

  #highest() {
    if (this.host.memoryOnly) return this.highestInMemory;
    try {
      const n = Number(localStorage.getItem(versionKey(this.host.account.id)));
      return Number.isSafeInteger(n) && n > 0 ? Math.max(n, this.highestInMemory) : this.highestInMemory;
    } catch {
      return this.highestInMemory;
    }
  }

  /** @param {number} version opened or written */
  #saw(version) {
    if (version <= this.#highest()) return;
    this.highestInMemory = version;
    if (this.host.memoryOnly) return;
    try { localStorage.setItem(versionKey(this.host.account.id), String(version)); } catch { /* private mode */ }
  }
}
