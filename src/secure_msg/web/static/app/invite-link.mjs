/**
 * An invitation link that carries trust (docs/protocol.md §6.7), for the therapist's invite
 * form: the booklet's history as she reads it now is sealed to the link's secret, so the family
 * member sees the child's name and the earlier entries the moment she joins.
 */
import { Opener, members, readEntries } from './data.mjs';
import { inviteTrust } from './roster.mjs';

/**
 * The link with its fragment appended. The fragment never goes to the server; a link the server
 * sends by SMS or e-mail is the plain one.
 * @param {string} bookletId @param {{id: number, link: string}} issued @param {string} role
 * @param {'qr' | 'link'} [via] qr: shown as a QR code at a meeting
 */
export async function trustedLink(bookletId, issued, role, via = 'link') {
  const { entries } = await readEntries(new Opener(bookletId, await members(bookletId, { all: true })));
  return `${issued.link}#${await inviteTrust(bookletId, issued.id, role, entries, via)}`;
}
