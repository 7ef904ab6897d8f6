/**
 * Pins and new recipients (docs/protocol.md §6.4), pure: what this device first saw of an
 * account, and whom a post would reach for the first time. The server's member list is only its
 * word: it could add an account to a booklet, or relabel a parent as the therapist.
 */

/**
 * @typedef {object} Pin what this device first saw of an account
 * @property {string} ik identity key, hex: trusted on first use, until verified in person
 * @property {boolean} verified
 * @property {string | null} [name] the name first listed (null: listed without one); absent only in pins made before names were pinned
 * @property {Record<string, string>} [roles] booklet id → the role first listed there
 * @property {boolean} [keyConflict] two devices of this account pinned different keys and neither
 *   verified (docs/protocol.md §6.5): treated as a changed key until verified in person
 */

/**
 * The pin after a member listing shows an account: a new pin on first sight, a name and a role
 * for this booklet added when the pin has none yet; never changed otherwise.
 * @param {Pin | undefined} pin
 * @param {{ik: string, name: string | null, role: string, bookletId: string}} listed
 * @returns {{pin: Pin, changed: boolean}} changed: it must be stored
 */
export function observe(pin, { ik, name, role, bookletId }) {
  const next = { ...(pin ?? { ik, verified: false }) };
  // A pin made before names were pinned adopts the current name, once.
  if (next.name === undefined) next.name = name ?? null;
  const roles = next.roles ?? {};
  next.roles = Object.hasOwn(roles, bookletId) ? roles : { ...roles, [bookletId]: role };
  const changed = !pin || pin.name !== next.name || pin.roles !== next.roles;
  return { pin: changed ? next : pin, changed };
}

// In its own module: the session (first load) needs only this one.
export { withKey } from './pin-key.mjs';

/**
 * Whether a listed key must be refused until the person is verified again: it is not the pinned
 * one, or this account's devices disagreed about the key (§6.5).
 * @param {Pin} pin @param {string} ik the listed identity key, hex
 */
export const keyChanged = (pin, ik) => pin.ik !== ik || pin.keyConflict === true;

/**
 * Current members whom this post would reach for the first time without their key verified in
 * person: the writer must confirm them.
 * @template {{id: string, verified: boolean}} M
 * @param {M[]} current @param {Iterable<string>} known account ids my entries were sealed to (or the writer confirmed)
 * @param {string | undefined} meId
 * @returns {M[]}
 */
export function newRecipients(current, known, meId) {
  const seen = new Set(known);
  return current.filter((m) => m.id !== meId && !m.verified && !seen.has(m.id));
}

/** Asked before sealing; the writer said no (or nobody could be asked). Nothing was sealed. */
export class NotConfirmed extends Error {
  /** @param {{id: string}[]} members */
  constructor(members) {
    super('not confirmed');
    this.members = members;
  }
}
