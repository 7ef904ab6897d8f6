/**
 * Live updates over GET /api/live: the token goes in the first message (never in the URL); events
 * carry ids and sequence numbers only, and the page then fetches through the normal API.
 * Reconnects with a growing delay; stops for good on logout.
 */
import { auth } from './api.mjs';

/** @type {WebSocket | null} */
let socket = null;
let wanted = false;
let delay = 1000;
/** @type {Set<(event: any) => void>} */
const listeners = new Set();

/** @param {(event: any) => void} fn @returns {() => void} unsubscribe */
export function onEntry(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
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
    // 'booklet': a booklet was closed; its open view reads it again like after a new entry.
    if (event.type === 'entry' || event.type === 'booklet') listeners.forEach((fn) => fn(event));
  });
  ws.addEventListener('close', () => {
    socket = null;
    document.documentElement.dataset.live = 'closed';
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
