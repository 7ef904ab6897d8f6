/**
 * The trust an invitation link carries in its fragment (`#i=…&f=…&via=…`, docs/protocol.md §6.7),
 * kept in this page's memory from the moment the address is replaced until the join uses it.
 * Only the text is kept here: parsing it needs the crypto modules, which the first load (the
 * login screen) does not fetch.
 */
/** @type {string | null} */
let kept = null;

/** Keep an enrollment link's fragment; anything without an invitation part is dropped. @param {string} hash */
export function keepLinkFragment(hash) {
  kept = typeof hash === 'string' && hash.includes('i=') ? hash : null;
}

/** The kept fragment, once: a second join in this page carries no trust. @returns {string | null} */
export function takeLinkFragment() {
  const hash = kept;
  kept = null;
  return hash;
}
