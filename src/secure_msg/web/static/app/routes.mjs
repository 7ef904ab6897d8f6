/**
 * The in-app address a link may carry through login, enrollment and recovery: a booklet, or its
 * safety-number page, and nothing else. A therapist's SMS alert links to `#/b/<booklet>`; any
 * other hash (a path with `..`, `//host`, `javascript:`) is dropped, so an address handed in from
 * outside can never send the signed-in page anywhere but one of its own screens.
 */
const WANTED = /^#\/b\/[0-9a-f]{32}(?:\/safety\/[0-9a-f]{32})?$/;

/**
 * The path to go to after signing in (`/b/…`), or null. @param {unknown} hash location.hash
 * @returns {string | null}
 */
export const wantedRoute = (hash) => (typeof hash === 'string' && WANTED.test(hash) ? hash.slice(1) : null);
