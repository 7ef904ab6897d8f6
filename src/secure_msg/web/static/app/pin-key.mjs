/** Marking a pin verified (docs/protocol.md §6.4), apart from pins.mjs for the first load. */

/**
 * Verified in person: the key is trusted from now on, and a key conflict is settled. The name and
 * roles first seen stay, or a server could relabel someone right after they were verified.
 * @param {import('./pins.mjs').Pin | undefined} pin @param {string} ik @param {boolean} verified @returns {import('./pins.mjs').Pin}
 */
export function withKey(pin, ik, verified) {
  const { keyConflict, ...rest } = pin ?? {};
  return verified || !keyConflict ? { ...rest, ik, verified } : { ...rest, ik, verified, keyConflict };
}
