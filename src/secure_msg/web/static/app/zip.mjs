/**
 * A stored (uncompressed) zip writer with CRC-32, for export archives (docs/export.md §2). It
 * writes the one canonical layout that the Python writer (client/export_zip.py) writes, byte for
 * byte: version 2.0, UTF-8 names, every time stamp 1980-01-01 00:00, no extra fields, comments
 * or data descriptors, no zip64 (under 4 GiB and 65 535 members). A verifier rebuilds the
 * archive from its members and compares, so a changed header byte is found too.
 */

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (ISO 3309, as zip and zlib compute it). @param {Uint8Array} data @returns {number} */
export function crc32(data) {
  let c = 0xFFFFFFFF;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xFF] ^ (c >>> 8);
  return (c ^ 0xFFFFFFFF) >>> 0;
}

const VERSION = 20;
const FLAGS = 0x0800; // names are UTF-8
const DOS_TIME = 0;
const DOS_DATE = (1 << 5) | 1; // 1980-01-01
const LIMIT = 0xFFFFFFFF;

/**
 * The canonical stored zip of the members, in the order given.
 * @param {Array<[string, Uint8Array]>} members (name, data)
 * @returns {Uint8Array}
 */
export function writeZip(members) {
  if (members.length > 0xFFFF) throw new RangeError('too many members');
  const names = members.map(([name]) => new TextEncoder().encode(name));
  const dataLength = members.reduce((n, [, d], i) => n + 30 + names[i].length + d.length, 0);
  const centralLength = names.reduce((n, raw) => n + 46 + raw.length, 0);
  if (dataLength + centralLength > LIMIT) throw new RangeError('archive larger than 4 GiB');
  const out = new Uint8Array(dataLength + centralLength + 22);
  const view = new DataView(out.buffer);
  let pos = 0;
  const u16 = (v) => { view.setUint16(pos, v, true); pos += 2; };
  const u32 = (v) => { view.setUint32(pos, v, true); pos += 4; };
  const put = (b) => { out.set(b, pos); pos += b.length; };
  const offsets = [];
  const crcs = members.map(([, data]) => crc32(data));
  members.forEach(([, data], i) => {
    offsets.push(pos);
    u32(0x04034B50); u16(VERSION); u16(FLAGS); u16(0); u16(DOS_TIME); u16(DOS_DATE);
    u32(crcs[i]); u32(data.length); u32(data.length); u16(names[i].length); u16(0);
    put(names[i]);
    put(data);
  });
  const start = pos;
  members.forEach(([, data], i) => {
    u32(0x02014B50); u16(VERSION); u16(VERSION); u16(FLAGS); u16(0); u16(DOS_TIME); u16(DOS_DATE);
    u32(crcs[i]); u32(data.length); u32(data.length); u16(names[i].length);
    u16(0); u16(0); u16(0); u16(0); u32(0); u32(offsets[i]);
    put(names[i]);
  });
  const size = pos - start;
  u32(0x06054B50); u16(0); u16(0); u16(members.length); u16(members.length); u32(size); u32(start); u16(0);
  return out;
}
