/**
 * Live updates over GET /api/live: the token goes in the first message (never in the URL); events
 * carry ids and sequence numbers only, and the page then fetches through the normal API.
 * Reconnects with a growing delay; stops for good on logout, and when the server closes the
 * socket because the session ended (code 4401, the reason saying why: docs/protocol.md §10.5).
 */
import { auth } from './api.mjs';

/** The close code of a session that ended. */
export const SESSION_ENDED = 4401;

/** @type {WebSocket | null} */
let socket = null;
let wanted = false;
let delay = 1000;
/** @type {Set<(event: any) => void>} */
const listeners = new Set();
/** @type {(reason: string) => void} */
let sessionEnded = () => {};
/** @type {Set<(event: any) => void>} */
const memberListeners = new Set();

/**
 * Every event: `entry` (new entry), `grant` (history granted to me), `appointments` (changed),
 * `removed` (I am no longer a member); each with its booklet_id.
 * @param {(event: any) => void} fn @returns {() => void} unsubscribe
 */
export function onEvent(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/**
 * New entries, and a booklet whose lifecycle changed ('booklet', once merged with the closing of
 * booklets): both mean "read it again". @param {(event: any) => void} fn @returns {() => void} unsubscribe
 */
export const onEntry = (fn) => onEvent((event) => { if (event.type === 'entry' || event.type === 'booklet') fn(event); });

/** Told once when the server ended this session; the reason as the server gave it. @param {(reason: string) => void} fn */
export function onSessionEnded(fn) {
  sessionEnded = fn;
}

/** A caregiver joined or left a booklet (docs/protocol.md §10.3). @param {(event: any) => void} fn @returns {() => void} unsubscribe */
export function onMember(fn) {
  memberListeners.add(fn);
  return () => memberListeners.delete(fn);
}

export function connect() {
  wanted = true;
  if (socket || !auth.token) return;
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/live`;
  const ws = new WebSocket(url);
  socket = ws;
  ws.addEventListener('open', () => ws.send(JSON.stringify({ token: auth.token })));
  ws.addEventListener('message', (msg) => {
    let event;
    try { event = JSON.parse(msg.data); } catch { return; }
    if (event.type === 'ready') {
      delay = 1000;
      document.documentElement.dataset.live = 'ready';
    }
    if (typeof event.booklet_id === 'string') listeners.forEach((fn) => fn(event));
    if (event.type === 'member') memberListeners.forEach((fn) => fn(event));
  });
  ws.addEventListener('close', (ev) => {
    if (socket === ws) socket = null;
    document.documentElement.dataset.live = 'closed';
    if (ev.code === SESSION_ENDED && wanted && auth.token) {
      // Reconnecting would only be refused again: the session is over.
      wanted = false;
      sessionEnded(ev.reason);
      return;
    }
    if (wanted && auth.token) {
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    }
  });
}

export function disconnect() {
  wanted = false;
  socket?.close();
  socket = null;
}
