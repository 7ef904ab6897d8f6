/**
 * The signed-in account on this device: enrollment, login, recovery, restore and logout.
 *
 * Private keys exist only as non-extractable CryptoKeys; on a personal device their bundle is kept
 * in IndexedDB under a non-extractable device key (crypto/keystore.mjs, WebKit-safe). On a shared
 * computer nothing is stored: keys, token and pins live in this page's memory only.
 * Pins (identity key, trusted on first use until verified in person, with the name and roles first
 * seen: docs/protocol.md §6.4) are kept per account, and beside them each booklet's history
 * checkpoint (§4.6) and whom my entries there were sealed to. Another account never sees them.
 * All three are also kept sealed to the account on the server (§6.5, app/state-sync.mjs): on a
 * shared computer that copy is the only one that outlives the page.
 */
// Only what login needs (not ../crypto/index.mjs): entries, grants and HPKE load with the inbox.
import { PBKDF2_ITERATIONS, PURPOSE, SALT_LENGTH, derivePasswordKeys, openBundle, sealBundle } from '../crypto/bundle.mjs';
import { fromBase64url, fromHex, toBase64url, toHex } from '../crypto/encoding.mjs';
import { ProtocolError } from '../crypto/errors.mjs';
import { AccountKeys, KeyBundle, verifyKeyStatement } from '../crypto/keys.mjs';
import { KeyStore } from '../crypto/keystore.mjs';
import { randomBytes } from '../crypto/primitives.mjs';
import { api, auth } from './api.mjs';
import { withKey } from './pin-key.mjs';

const SESSION_KEY = 'secure-msg:session';
const pinsKey = (id) => `secure-msg:pins:${id}`;
const checkpointsKey = (id) => `secure-msg:checkpoints:${id}`;
const sealedToKey = (id) => `secure-msg:sealed-to:${id}`;
/** Set and removed at once: the other tabs' `storage` event, where BroadcastChannel is missing. */
const LOGOUT_SIGNAL = 'secure-msg:logout';
const LOGOUT_CHANNEL = 'secure-msg:session';
/** Made when used: an open channel would keep Node (the JS tests) from exiting. */
const openChannel = () => (typeof BroadcastChannel === 'function' ? new BroadcastChannel(LOGOUT_CHANNEL) : null);
/** Every channel of the origin hears a message, this tab's listener too: it skips its own. */
const THIS_TAB = Math.random().toString(36).slice(2);
/** The final state write may wait this long at logout; leaving must not hang on a dead network. */
const FLUSH_LIMIT_MS = 5000;

/**
 * @typedef {object} Account
 * @property {string} id @property {string} login @property {string} role
 * @property {string | null} name @property {string} language @property {string} key_statement
 */

export const state = {
  /** @type {Account | null} */ account: null,
  /** @type {AccountKeys | null} */ keys: null,
  memoryOnly: false,
  /** @type {Record<string, import('./pins.mjs').Pin>} */ pins: {},
  /** @type {Record<string, import('./history.mjs').Checkpoint>} booklet id → the highest entry accepted */ checkpoints: {},
  /** @type {Record<string, string[]>} booklet id → the accounts my entries there were sealed to */ sealedTo: {},
  /** @type {Set<string>} booklets whose checkpoint another device had at the same sequence with another entry (§6.5) */ checkpointConflicts: new Set(),
};

/** @type {import('./state-sync.mjs').StateSync | null} the server's sealed copy of the pins, checkpoints and sealedTo of this session */
let sync = null;
/**
 * state-sync.mjs, with the sealed state's format and merge, loads on the first sign-in: the login
 * screen does not need it, and the first load stays small (docs/performance.md).
 * @type {Promise<typeof import('./state-sync.mjs')> | null}
 */
let syncModule = null;
/**
 * A random name for this session, not derived from its token: kept beside the token in storage, so
 * the tabs that share the session know it, and a logout can say which session it ended.
 * @type {string | null}
 */
let sessionTag = null;
const loadSync = () => (syncModule ??= import('./state-sync.mjs'));

const storage = {
  get(key) { try { return JSON.parse(localStorage.getItem(key) ?? 'null'); } catch { return null; } },
  set(key, value) { try { localStorage.setItem(key, JSON.stringify(value)); } catch { /* private mode */ } },
  remove(key) { try { localStorage.removeItem(key); } catch { /* private mode */ } },
};

const now = () => Date.now();

/** The recovery key's code, needed by enrollment and recovery only: loaded then, not with the login screen. */
const recoveryCode = () => import('../crypto/recovery.mjs');

/** Derive, seal and post everything an enrollment needs. @returns {Promise<string>} the recovery key text (show once) */
export async function enroll(token, accountId, { login, password, language, memoryOnly }) {
  const { deriveRecoveryKeys, formatRecoveryKey, generateRecoverySecret } = await recoveryCode();
  const bundle = KeyBundle.generate(fromHex(accountId));
  try {
    const keys = await AccountKeys.fromBundle(bundle);
    const salt = randomBytes(SALT_LENGTH);
    const pw = await derivePasswordKeys(password, { iterations: PBKDF2_ITERATIONS, salt });
    const secret = generateRecoverySecret();
    const rk = await deriveRecoveryKeys(secret);
    const result = await api('POST', `/api/enroll/${encodeURIComponent(token)}`, {
      login, language,
      key_statement: toBase64url(await keys.statement(now())),
      kdf_salt: toBase64url(salt), kdf_iterations: PBKDF2_ITERATIONS, auth_key: toBase64url(pw.authKey),
      password_bundle: toBase64url(await sealBundle(bundle, pw.kek, PURPOSE.PASSWORD)),
      recovery_auth_key: toBase64url(rk.authKey),
      recovery_bundle: toBase64url(await sealBundle(bundle, rk.kek, PURPOSE.RECOVERY)),
    });
    await signedIn(result, bundle, keys, memoryOnly);
    const text = await formatRecoveryKey(secret);
    secret.fill(0);
    return text;
  } finally {
    bundle.wipe();
  }
}

/** KDF parameters from the server (refused if weaker than v1) and the password keys. */
async function passwordKeys(login, password) {
  const pre = await api('POST', '/api/prelogin', { login });
  return derivePasswordKeys(password, { kdf: pre.kdf, iterations: pre.iterations, salt: fromBase64url(pre.salt) });
}

/** Open the password-sealed bundle of a login answer against the account's verified statement. */
async function openLoginResult(result, kek) {
  const statement = await verifyKeyStatement(fromBase64url(result.account.key_statement), { accountId: fromHex(result.account.id) });
  return openBundle(fromBase64url(result.password_bundle), kek, { purpose: PURPOSE.PASSWORD, statement });
}

export async function login(loginName, password, { memoryOnly }) {
  const pw = await passwordKeys(loginName, password);
  const result = await api('POST', '/api/login', { login: loginName, auth_key: toBase64url(pw.authKey) });
  const { bundle, keys } = await openLoginResult(result, pw.kek);
  try {
    await signedIn(result, bundle, keys, memoryOnly);
  } finally {
    bundle.wipe();
  }
}

/** Lost password: the recovery key opens the second bundle and a new password is set. */
export async function recover(loginName, recoveryText, newPassword, { memoryOnly }) {
  const { deriveRecoveryKeys, parseRecoveryKey } = await recoveryCode();
  const rk = await deriveRecoveryKeys(await parseRecoveryKey(recoveryText));
  const body = { login: loginName, recovery_auth_key: toBase64url(rk.authKey) };
  const found = await api('POST', '/api/recovery/bundle', body);
  // Every check of §3.5, the keys against the account's statement included, before the reset:
  // keys that do not match must not be sealed under the new password.
  const statement = await verifyKeyStatement(fromBase64url(found.key_statement));
  const { bundle: old } = await openBundle(fromBase64url(found.recovery_bundle), rk.kek, { purpose: PURPOSE.RECOVERY, statement });
  try {
    const salt = randomBytes(SALT_LENGTH);
    const pw = await derivePasswordKeys(newPassword, { iterations: PBKDF2_ITERATIONS, salt });
    const result = await api('POST', '/api/recovery/reset', {
      ...body, kdf_salt: toBase64url(salt), kdf_iterations: PBKDF2_ITERATIONS, auth_key: toBase64url(pw.authKey),
      password_bundle: toBase64url(await sealBundle(old, pw.kek, PURPOSE.PASSWORD)),
    });
    const { bundle, keys } = await openLoginResult(result, pw.kek);
    try {
      await signedIn(result, bundle, keys, memoryOnly);
    } finally {
      bundle.wipe();
    }
  } finally {
    old.wipe();
  }
}

async function signedIn(result, bundle, keys, memoryOnly) {
  state.memoryOnly = memoryOnly;
  state.account = result.account;
  state.keys = keys;
  auth.token = result.token;
  sessionTag = toHex(randomBytes(8));
  if (!memoryOnly) {
    const store = await KeyStore.open();
    await store.save(bundle);
    storage.set(SESSION_KEY, { token: result.token, account: result.account, tag: sessionTag });
  }
  state.pins = (memoryOnly ? null : storage.get(pinsKey(result.account.id))) ?? {};
  state.checkpoints = {}; // read from storage when used (getCheckpoint), unless memory-only
  state.sealedTo = {}; // likewise (getSealedTo)
  state.checkpointConflicts = new Set();
  setPin(result.account.id, toHex(keys.identityPublic), true);
  await startSync();
}

/**
 * Merge the server's sealed copy into this session before any member list is shown: a pin
 * first seen after it would trust whatever key the server serves.
 */
async function startSync() {
  const { StateSync, clearStateReport } = await loadSync();
  if (!state.account || !state.keys) return; // forgotten while it loaded
  sync?.stop();
  clearStateReport();
  const account = /** @type {Account} */ (state.account);
  const keys = /** @type {AccountKeys} */ (state.keys);
  sync = new StateSync({
    account, keys, memoryOnly: state.memoryOnly,
    read: () => ({ pins: storedRecord(pinsKey, state.pins), checkpoints: storedCheckpoints(), sealedTo: storedSealedTo() }),
    adopt: (merged, conflicts) => {
      state.pins = merged.pins;
      state.checkpoints = merged.checkpoints;
      state.sealedTo = merged.sealedTo;
      conflicts.forEach((id) => state.checkpointConflicts.add(id));
      if (state.memoryOnly) return;
      storage.set(pinsKey(account.id), merged.pins);
      storage.set(checkpointsKey(account.id), merged.checkpoints);
      storage.set(sealedToKey(account.id), merged.sealedTo);
    },
    active: () => state.account?.id === account.id && state.keys === keys,
  });
  await sync.start();
}

/** Back from a reload on a personal device: the token and the keys stored under the device key. */
export async function restore() {
  const saved = storage.get(SESSION_KEY);
  if (!saved?.token || !saved.account?.id) return false;
  try {
    const store = await KeyStore.open();
    const keys = await store.load(fromHex(saved.account.id));
    if (!keys) return false;
    auth.token = saved.token;
    sessionTag = typeof saved.tag === 'string' ? saved.tag : toHex(randomBytes(8));
    const account = await api('GET', '/api/me');
    const st = await verifyKeyStatement(fromBase64url(account.key_statement), { accountId: fromHex(account.id), pinnedIdentityKey: keys.identityPublic });
    if (toHex(st.encryptionKey) !== toHex(keys.encryptionPublic)) throw new ProtocolError('bundle-key-mismatch');
    Object.assign(state, { account, keys, memoryOnly: false, pins: storage.get(pinsKey(account.id)) ?? {}, checkpoints: {}, sealedTo: {} });
    state.checkpointConflicts = new Set();
    await startSync();
    return true;
  } catch {
    auth.token = null;
    sessionTag = null;
    return false;
  }
}

/**
 * Write the last changes to the server's copy, forget the keys and token here (resolving once
 * the key store is wiped), tell this browser's other tabs to do the same, and end the session
 * on the server.
 */
export async function logout() {
  if (sync) await Promise.race([sync.flush(), new Promise((resolve) => { setTimeout(resolve, FLUSH_LIMIT_MS); })]);
  const token = auth.token;
  const tag = sessionTag;
  const wiped = forget();
  tellOtherTabs(tag);
  if (token) await endOnServer(token);
  await wiped;
}

/**
 * End a session this page has already forgotten. `auth.token` stays null meanwhile: a request
 * the page makes at the same moment must not carry the ending session.
 * @param {string} token
 */
async function endOnServer(token) {
  try { await api('POST', '/api/logout', undefined, { token }); } catch { /* the local part is what matters */ }
}

/** @param {string | null} tag the ended session's tag: tabs sharing it need not end it again */
function tellOtherTabs(tag) {
  const channel = openChannel();
  channel?.postMessage({ logout: THIS_TAB, session: tag }); // queued for the other tabs before it closes
  channel?.close();
  try {
    localStorage.setItem(LOGOUT_SIGNAL, `${Date.now()} ${tag ?? ''}`);
    localStorage.removeItem(LOGOUT_SIGNAL);
  } catch { /* private mode: BroadcastChannel only */ }
}

/**
 * When another tab of this browser logs out: forget keys and token here at once (nothing is
 * written or posted afterwards, not even changes still waiting), end this tab's own session on
 * the server, and call `then` to show the login screen.
 * @param {() => void} then
 */
export function onLoggedOutElsewhere(then) {
  /** @param {string | null} ended the tag of the session the other tab ended */
  const hear = (ended) => {
    if (!state.account && !auth.token) return;
    const token = auth.token;
    const shared = ended !== null && ended === sessionTag;
    forget();
    then();
    // The same session (restored from this browser's storage) is already being ended: a second
    // logout would race the first and be refused.
    if (token && !shared) endOnServer(token);
  };
  openChannel()?.addEventListener('message', (ev) => {
    if (ev.data?.logout && ev.data.logout !== THIS_TAB) hear(typeof ev.data.session === 'string' ? ev.data.session : null);
  });
  globalThis.addEventListener?.('storage', (ev) => {
    if (ev.key === LOGOUT_SIGNAL && ev.newValue) hear(ev.newValue.split(' ')[1] || null);
  });
}

/**
 * Forget everything secret in this page and on this device (pins and checkpoints stay on a
 * personal device, and in the server's sealed copy). Resolves once the key store is wiped.
 * @returns {Promise<void>}
 */
export function forget() {
  sync?.stop();
  sync = null;
  syncModule?.then((m) => m.clearStateReport());
  storage.remove(SESSION_KEY);
  auth.token = null;
  sessionTag = null;
  state.account = null;
  state.keys = null;
  state.pins = {};
  state.checkpoints = {};
  state.sealedTo = {};
  state.checkpointConflicts = new Set();
  if (state.memoryOnly) return Promise.resolve();
  return KeyStore.wipe().catch(() => {});
}

/** @param {string} accountId @returns {import('./pins.mjs').Pin | undefined} */
export const getPin = (accountId) => state.pins[accountId];

/**
 * Set a pin's key and whether it is verified; the name and roles first seen stay.
 * @param {string} accountId @param {string} ikHex @param {boolean} verified
 */
export const setPin = (accountId, ikHex, verified) => putPin(accountId, withKey(state.pins[accountId], ikHex, verified));

/** @param {string} accountId @param {import('./pins.mjs').Pin} pin */
export function putPin(accountId, pin) {
  state.pins[accountId] = pin;
  keep(pinsKey, state.pins);
}

/**
 * Keep a changed record on this device (not on a shared computer) and, soon, in the server's
 * sealed copy. @param {(id: string) => string} keyOf @param {unknown} value
 */
function keep(keyOf, value) {
  if (!state.memoryOnly && state.account) storage.set(keyOf(state.account.id), value);
  sync?.changed();
}

/**
 * A per-booklet record as stored now (another tab of this account may have changed it), or the
 * one in memory when nothing is stored on this device.
 * @param {(id: string) => string} keyOf @param {Record<string, any>} inMemory
 */
function storedRecord(keyOf, inMemory) {
  if (state.memoryOnly || !state.account) return inMemory;
  const saved = storage.get(keyOf(state.account.id));
  return saved && typeof saved === 'object' && !Array.isArray(saved) ? saved : inMemory;
}

/** @returns {Record<string, string[]>} */
const storedSealedTo = () => storedRecord(sealedToKey, state.sealedTo);

/** The accounts my entries in this booklet were sealed to. @param {string} bookletId @returns {string[]} */
export function getSealedTo(bookletId) {
  state.sealedTo = storedSealedTo();
  const ids = state.sealedTo[bookletId];
  return Array.isArray(ids) ? ids.filter((id) => typeof id === 'string') : [];
}

/** After a post: add everyone its attempts were sealed to. @param {string} bookletId @param {Iterable<string>} ids */
export function addSealedTo(bookletId, ids) {
  const all = storedSealedTo();
  all[bookletId] = [...new Set([...getSealedTo(bookletId), ...ids])].sort();
  state.sealedTo = all;
  keep(sealedToKey, all);
}

/**
 * A stored checkpoint, or null for a damaged one (the next clean read sets it). One kept before
 * checkpoints had joined_seq counts as joined at 0, as its reads checked.
 * @returns {import('./history.mjs').Checkpoint | null}
 */
function validCheckpoint(c) {
  if (!c || !Number.isSafeInteger(c.seq) || c.seq <= 0 || !/^[0-9a-f]{64}$/.test(c.entryHash)) return null;
  const joinedSeq = c.joinedSeq ?? 0;
  const accepted = c.accepted ?? 0; // how often its history was accepted after a restore (§6.5)
  const count = (/** @type {unknown} */ n) => Number.isSafeInteger(n) && /** @type {number} */ (n) >= 0;
  if (!count(joinedSeq) || !count(accepted)) return null;
  return accepted ? { seq: c.seq, entryHash: c.entryHash, joinedSeq, accepted } : { seq: c.seq, entryHash: c.entryHash, joinedSeq };
}

/** @returns {Record<string, any>} */
const storedCheckpoints = () => storedRecord(checkpointsKey, state.checkpoints);

/**
 * The booklet's checkpoint; `conflict` when another device of this account had another entry at
 * its sequence (§6.5), which the history check reports as `history-rewritten`.
 * @param {string} bookletId @returns {import('./history.mjs').Checkpoint | null}
 */
export function getCheckpoint(bookletId) {
  state.checkpoints = storedCheckpoints();
  const checkpoint = validCheckpoint(state.checkpoints[bookletId]);
  return checkpoint && state.checkpointConflicts.has(bookletId) ? { ...checkpoint, conflict: true } : checkpoint;
}

/**
 * Keep a booklet's new checkpoint, unless another tab already kept a later one (or another entry
 * at its sequence, which this tab's next read will report).
 * @param {string} bookletId @param {import('./history.mjs').Checkpoint} checkpoint
 */
export function setCheckpoint(bookletId, checkpoint) {
  const all = storedCheckpoints();
  const stored = validCheckpoint(all[bookletId]);
  if (stored && (stored.seq > checkpoint.seq || (stored.seq === checkpoint.seq && stored.entryHash !== checkpoint.entryHash))) return;
  // A read moves the checkpoint along the history last accepted: the count goes with it.
  all[bookletId] = { seq: checkpoint.seq, entryHash: checkpoint.entryHash, joinedSeq: checkpoint.joinedSeq, accepted: stored?.accepted ?? 0 };
  state.checkpoints = all;
  keep(checkpointsKey, all);
}

/**
 * Put a booklet's checkpoint in place of the kept one, lower or not (null forgets it): for
 * accepting the history as it is now after a restore users were told about, which is what made
 * the booklet go back (docs/operations.md, "Backups"). Stored as setCheckpoint stores, but
 * written to the server's copy at once: left to the debounce, a page closed right after would
 * meet the older copy's checkpoint at the next sign-in, and the warning would come back.
 * @param {string} bookletId @param {import('./history.mjs').Checkpoint | null} checkpoint
 * @returns {Promise<void>} once the server's copy was written (or could not be)
 */
export function replaceCheckpoint(bookletId, checkpoint) {
  const all = storedCheckpoints();
  // One more acceptance than the checkpoint it replaces, so merging keeps it over the one from
  // before the restore that other devices and the server's copy still hold (§6.5).
  const accepted = (validCheckpoint(all[bookletId])?.accepted ?? 0) + 1;
  if (checkpoint) all[bookletId] = { seq: checkpoint.seq, entryHash: checkpoint.entryHash, joinedSeq: checkpoint.joinedSeq, accepted };
  else delete all[bookletId];
  state.checkpoints = all;
  state.checkpointConflicts.delete(bookletId); // the history as it is now is the reference
  keep(checkpointsKey, all);
  return sync ? sync.flush() : Promise.resolve();
}
