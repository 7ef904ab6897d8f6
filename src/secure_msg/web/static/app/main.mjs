/** The web inbox: boot, header (languages, logout) and a small hash router. */
import { auth } from './api.mjs';
import { h, replace } from './dom.mjs';
import { LANGUAGES, allTexts, hasChosenLanguage, lang, setLang, t } from './i18n.mjs';
import { wantedRoute } from './routes.mjs';
import * as session from './session.mjs';
import { loginView } from './views/auth.mjs';
import { keepLinkFragment } from './link-trust.mjs';

/** The desk's breakpoint (views/desk.mjs WIDE): 64rem, 1024 px at the default font size. */
const WIDE = '(min-width: 64rem)';

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
/** Live updates load once signed in: the login screen needs none (a smaller first load). */
let liveModule = null;
const live = {
  connect: () => {
    liveModule ??= import('./live.mjs').then((m) => {
      m.onSessionEnded(sessionEnded);
      return m;
    });
    liveModule.then((m) => m.connect());
  },
  disconnect: () => liveModule?.then((m) => m.disconnect()),
};
let cleanup = () => {};
let loginMessage = '';
/** A booklet address opened while signed out (an SMS alert's link): shown once signed in. */
let wanted = wantedRoute(location.hash); // before an invitation link's address is replaced
let enrollToken = takeEnrollToken();

/**
 * An invitation link's token, moved from the address into memory at once, before anything
 * awaits: a token left in the address bar stays in the browser's history and can be reused.
 * @returns {string | null}
 */
function takeEnrollToken() {
  const m = location.pathname.match(/^\/enroll\/([^/]+)$/);
  if (!m) return null;
  keepLinkFragment(location.hash); // the trust the link carries (§6.7), kept in memory only
  history.replaceState(null, '', '/#/enroll');
  return decodeURIComponent(m[1]);
}

function header() {
  const langs = h('ul', { class: 'langs' }, LANGUAGES.map(([code, label]) => h('li', null,
    h('button', { type: 'button', lang: code, 'aria-pressed': String(code === lang()), class: 'lang',
      onclick: async () => { await setLang(code); route(); } }, label))));
  replace(document.getElementById('top'),
    h('p', { class: 'brand' }, h('a', { href: '#/' }, t('app_name'))),
    h('nav', { 'aria-label': t('language') }, langs),
    session.state.account
      ? h('button', { type: 'button', class: 'secondary logout', onclick: async () => {
        live.disconnect();
        await session.logout();
        history.replaceState(null, '', '/#/login');
        route();
      } }, t('logout'))
      : null);
  document.getElementById('skip').textContent = t('skip');
}

async function loggedIn() {
  enrollToken = null;
  if (!hasChosenLanguage() && session.state.account?.language) await setLang(session.state.account.language, { remember: false });
  live.connect();
  history.replaceState(null, '', `/#${wanted ?? '/'}`);
  route();
}

/** Show the screen for the current address. */
export async function route() {
  cleanup();
  cleanup = () => {};
  delete main.dataset.ready;
  document.title = t('app_name');
  header();
  if (session.state.account) enrollToken = null; // already signed in: the invitation is not for this session
  // Enrollment and recovery are rare: their screens (and texts) load on use, so the first load
  // stays small.
  const hash = location.hash.startsWith('#/') ? location.hash.slice(1) : '/';
  if (enrollToken || session.state.account || hash === '/recover') await allTexts();
  if (enrollToken) return (await import('./views/enroll.mjs')).enrollView(main, enrollToken, loggedIn);
  if (!session.state.account) {
    wanted = wantedRoute(location.hash) ?? wanted; // kept while moving between login and recovery
    if (hash === '/recover') return (await import('./views/enroll.mjs')).recoverView(main, loggedIn);
    const message = loginMessage;
    loginMessage = '';
    return loginView(main, loggedIn, message);
  }
  wanted = null; // signed in: nothing left to carry, not even to a later login on this page
  // Screens after login load on first use, so the first load stays small.
  let m;
  if ((m = hash.match(/^\/b\/([0-9a-f]{32})\/safety\/([0-9a-f]{32})$/))) {
    return (await import('./views/safety.mjs')).safetyView(main, m[1], m[2]);
  }
  const therapist = session.state.account.role === 'therapist';
  if ((m = hash.match(/^\/b\/([0-9a-f]{32})$/))) {
    if (therapist && matchMedia(WIDE).matches) { // the desk: the caseload beside the booklet
      cleanup = (await import('./views/desk.mjs')).deskView(main, { open: m[1], wide: true });
      return undefined;
    }
    const { bookletView } = await import('./views/booklet.mjs');
    cleanup = bookletView(main, m[1]);
    return undefined;
  }
  if (session.state.account.role === 'admin') { // no booklets: the admin's page instead
    cleanup = (await import('./views/admin.mjs')).adminView(main);
    return undefined;
  }
  if (therapist) {
    cleanup = (await import('./views/desk.mjs')).deskView(main, { open: null, wide: matchMedia(WIDE).matches });
    return undefined;
  }
  const { inboxView } = await import('./views/inbox.mjs');
  cleanup = inboxView(main);
  return undefined;
}

// Another tab logged out: this one has already forgotten keys and token; show the login screen.
session.onLoggedOutElsewhere(() => {
  live.disconnect();
  loginMessage = t('err_session');
  history.replaceState(null, '', '/#/login');
  route();
});

/** The server ended this session (live socket closed with 4401): say why on the login screen. */
const ENDED = { 'password-changed': 'ended_password_changed', recovered: 'ended_recovered', 'logged-out': 'ended_logged_out', 'session-expired': 'ended_expired' };
function sessionEnded(reason) {
  if (!session.state.account) return;
  session.forget();
  loginMessage = t(Object.hasOwn(ENDED, reason) ? ENDED[reason] : 'err_session');
  history.replaceState(null, '', '/#/login');
  route();
}

auth.onUnauthorized = () => {
  live.disconnect();
  session.forget();
  loginMessage = t('err_session');
  location.hash = '#/login';
};

// The therapist's desk changes layout at the breakpoint (list beside the booklet, or not).
matchMedia(WIDE).addEventListener('change', () => {
  if (session.state.account?.role === 'therapist') route();
});

window.addEventListener('hashchange', () => {
  if (location.hash === '#main') return; // the skip link
  route().then(() => {
    const heading = main.querySelector('h1');
    heading?.setAttribute('tabindex', '-1');
    heading?.focus();
  });
});

await setLang(lang(), { remember: false });
if (await session.restore()) live.connect();
await route();
document.documentElement.dataset.booted = 'true';
