/**
 * The clients' history check (docs/protocol.md §4.6): does what the server listed of a booklet
 * add up to one unbroken hash chain, with nothing left out that was sealed to me, and agree with
 * what this device accepted before? Pure (no DOM, no fetch): the caller parses the envelopes and
 * keeps the checkpoint. Hashes are lowercase hex, as the checkpoint is stored.
 *
 * Without it, a server could quietly drop entries from one member's view, or show a history that
 * differs from the one this device saw, and every entry would still open on its own.
 */

const ZERO_HASH = '00'.repeat(32);
/** For one sequence, problems come in the order of the spec's table. */
const ORDER = { 'history-rewritten': 0, 'chain-broken': 1, 'membership-restarted': 2, 'entries-missing': 3 };
/**
 * Reported, but a read with only this problem still moves the checkpoint: a re-invitation is
 * honest, and a warning on every later read would teach people to ignore it.
 */
const NOT_BLOCKING = new Set(['membership-restarted']);

/**
 * @typedef {object} Listed an entry as the check sees it
 * @property {number} seq the signed header's sequence, or the listing's when the envelope does not parse
 * @property {string | null} prevHash null when the envelope does not parse
 * @property {string} entryHash of the bytes served
 */
/**
 * @typedef {object} Checkpoint the highest entry this device accepted
 * @property {number} seq @property {string} entryHash
 * @property {number} joinedSeq my joined_seq in the read that set it: a change means the server says I was re-invited
 * @property {boolean} [conflict] another device of this account kept another entry at `seq` (§6.5)
 * @property {number} [accepted] how often this booklet's history was accepted after a restore (§6.5); 0 when absent
 */
/**
 * @typedef {{code: 'history-rewritten' | 'chain-broken' | 'membership-restarted', seq: number} | {code: 'entries-missing', from: number, to: number}} Problem
 */

/**
 * Problems of one read, and the checkpoint to keep after it.
 * @param {object} read
 * @param {number} read.since the read asked for the entries after this sequence
 * @param {number} read.lastSeq the highest last_seq the listing's pages reported
 * @param {number} read.joinedSeq my own member record's joined_seq
 * @param {Checkpoint | null} read.checkpoint
 * @param {Listed[]} read.items
 * @returns {{problems: Problem[], checkpoint: Checkpoint | null}}
 */
export function checkHistory({ since, lastSeq, joinedSeq, checkpoint, items }) {
  /** @type {Map<number, number>} */
  const counts = new Map();
  for (const i of items) counts.set(i.seq, (counts.get(i.seq) ?? 0) + 1);
  // A sequence listed twice is a fork: neither copy is anyone's predecessor.
  const single = new Map(items.filter((i) => counts.get(i.seq) === 1).map((i) => [i.seq, i.entryHash]));
  /** @type {Map<string, Problem>} keyed so that each code and sequence is reported once */
  const found = new Map();
  const add = (/** @type {Problem} */ p) => found.set(`${p.code}:${'seq' in p ? p.seq : p.from}`, p);

  if (checkpoint) {
    const rewritten = checkpoint.conflict === true || lastSeq < checkpoint.seq
      || items.some((i) => i.seq === checkpoint.seq && i.entryHash !== checkpoint.entryHash);
    if (rewritten) add({ code: 'history-rewritten', seq: checkpoint.seq });
    if (joinedSeq !== checkpoint.joinedSeq) add({ code: 'membership-restarted', seq: joinedSeq });
  }
  for (const [seq, n] of counts) if (n > 1) add({ code: 'chain-broken', seq });
  for (const i of items) {
    if (i.prevHash === null || counts.get(i.seq) !== 1) continue;
    const before = predecessor(i.seq, single, checkpoint);
    if (before !== null && before !== i.prevHash) add({ code: 'chain-broken', seq: i.seq });
  }
  for (const run of missing(Math.max(since, joinedSeq) + 1, lastSeq, new Set(counts.keys()))) add(run);

  const at = (/** @type {Problem} */ p) => ('seq' in p ? p.seq : p.from);
  const problems = [...found.values()].sort((a, b) => at(a) - at(b) || ORDER[a.code] - ORDER[b.code]);
  const blocking = problems.some((p) => !NOT_BLOCKING.has(p.code));
  return { problems, checkpoint: blocking ? checkpoint : advance(since, joinedSeq, checkpoint, single) };
}

/**
 * The hash an entry of `seq` must name as prev_hash, or null when this read cannot tell.
 * @param {number} seq @param {Map<number, string>} single @param {Checkpoint | null} checkpoint
 */
function predecessor(seq, single, checkpoint) {
  if (seq === 1) return ZERO_HASH;
  const listed = single.get(seq - 1);
  if (listed !== undefined) return listed;
  return checkpoint && checkpoint.seq === seq - 1 ? checkpoint.entryHash : null;
}

/**
 * Maximal runs of first..last that the listing leaves out. Walks the listed sequences, not the
 * range: `last` is the server's number and could be huge.
 * @param {number} first @param {number} last @param {Set<number>} listed
 * @returns {Problem[]}
 */
function missing(first, last, listed) {
  /** @type {Problem[]} */
  const runs = [];
  let expected = first;
  for (const s of [...listed].filter((x) => x >= first && x <= last).sort((a, b) => a - b)) {
    if (s > expected) runs.push({ code: 'entries-missing', from: expected, to: s - 1 });
    expected = s + 1;
  }
  if (expected <= last) runs.push({ code: 'entries-missing', from: expected, to: last });
  return runs;
}

/**
 * After a clean read: the highest listed entry, when every link up to it was checked, from the
 * checkpoint or from where I (re)joined, whichever is later; the first checkpoint only from a read
 * of the whole history. Otherwise the old checkpoint, with this read's joined_seq.
 * @param {number} since @param {number} joinedSeq @param {Checkpoint | null} checkpoint
 * @param {Map<number, string>} single
 * @returns {Checkpoint | null}
 */
function advance(since, joinedSeq, checkpoint, single) {
  let top = 0;
  for (const seq of single.keys()) top = Math.max(top, seq);
  const at = (/** @type {number} */ seq) => ({ seq, entryHash: /** @type {string} */ (single.get(seq)), joinedSeq });
  if (!checkpoint) return top && since === 0 ? at(top) : null;
  const base = Math.max(checkpoint.seq, joinedSeq);
  let linked = top > base;
  // Stops at the first gap: a huge `top` from the server costs nothing.
  for (let s = base + 1; linked && s <= top; s++) linked = single.has(s);
  return linked ? at(top) : { seq: checkpoint.seq, entryHash: checkpoint.entryHash, joinedSeq };
}

/**
 * What "accept the history shown now" excuses, as the CLI's `booklet accept-history` does after a
 * restore from backup users were told about. A restore makes the booklet go back, so an entry
 * this device saw is gone or another one has its place (`history-rewritten`); a re-invitation
 * lost with it shows as `membership-restarted`. Never `chain-broken` or `entries-missing`: a
 * restored booklet is still one unbroken chain with nothing left out, so those mean a server that
 * forges or withholds entries now, and accepting would make that the reference and silence it.
 */
const ACCEPTABLE = new Set(['history-rewritten', 'membership-restarted']);

/**
 * Offer accepting only for a booklet that went back with nothing else wrong.
 * @param {Problem[]} problems @returns {boolean}
 */
export const canAcceptHistory = (problems) => problems.some((p) => p.code === 'history-rewritten')
  && problems.every((p) => ACCEPTABLE.has(p.code));

/**
 * The checkpoint that accepting the history as it is now keeps: what a clean read of the whole
 * booklet without a checkpoint gives (its highest entry, with the read's joined_seq; null for an
 * empty booklet), or not ok when that read would not be clean.
 * @param {object} read a read of the whole booklet (since 0), checked against the current checkpoint
 * @param {Problem[]} read.problems @param {number} read.joinedSeq
 * @param {{seq: number, entryHash: string | null}[]} read.entries entryHash null: it did not open
 * @returns {{ok: true, checkpoint: Checkpoint | null} | {ok: false}}
 */
export function acceptedCheckpoint({ problems, joinedSeq, entries }) {
  // A checkpoint only adds findings to a read: if this one finds nothing but what accepting
  // excuses, the same read without a checkpoint is clean.
  if (!problems.every((p) => ACCEPTABLE.has(p.code))) return { ok: false };
  // An entry that fails its own checks must not become the reference (§4.6).
  if (entries.some((e) => e.entryHash === null)) return { ok: false };
  let top = null;
  for (const e of entries) if (!top || e.seq > top.seq) top = e;
  return { ok: true, checkpoint: top && { seq: top.seq, entryHash: /** @type {string} */ (top.entryHash), joinedSeq } };
}
