// The console's shell: sign-in, navigation between pages (by URL fragment,
// which never carries the key), sign-out.
import { api, session, ApiError } from './api.js';
import { el } from './ui.js';
import overview from './overview.js';
import models from './models.js';
import teams from './teams.js';
import usage from './usage.js';
import audit from './audit.js';

const pages = { overview, models, teams, usage, audit };
const $ = (id) => document.getElementById(id);
let stopPage = null;

function showBanner(text) {
  const b = $('banner');
  b.textContent = text;
  b.hidden = !text;
}

function showSignIn(message) {
  if (stopPage) stopPage();
  stopPage = null;
  $('page').replaceChildren();
  $('app').hidden = true;
  $('signin').hidden = false;
  const err = $('signin-error');
  err.textContent = message || '';
  err.hidden = !message;
  $('admin-key').value = '';
  $('admin-key').focus();
}

// A page's failed call: a key that stopped working ends the session; any
// other error stays on the page that made the call.
function onError(e) {
  if (e instanceof ApiError && e.status === 401) {
    session.clear();
    showSignIn(`Signed out: ${e.describe()}`);
    return true;
  }
  return false;
}

function render() {
  const name = location.hash.replace(/^#\/?/, '') || 'overview';
  const page = pages[name] || pages.overview;
  if (stopPage) stopPage();
  showBanner('');
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', a.dataset.page === (pages[name] ? name : 'overview'));
  }
  const root = el('section', { class: 'page', 'data-page': name });
  $('page').replaceChildren(root);
  stopPage = page.render(root, { onError }) || null;
}

function showApp() {
  $('signin').hidden = true;
  $('app').hidden = false;
  render();
}

async function signIn(event) {
  event.preventDefault();
  const key = $('admin-key').value.trim();
  const button = event.target.querySelector('button');
  button.disabled = true;
  try {
    // Any admin route tells an admin key (200) from a user key (403) or a bad one (401).
    await api('GET', '/admin/v1/devices', undefined, { key });
    session.save(key);
    showApp();
  } catch (e) {
    const why = e instanceof ApiError && e.status === 403
      ? `${e.describe()} This key is not an admin key.` : (e.describe ? e.describe() : String(e));
    showSignIn(why);
  } finally {
    button.disabled = false;
  }
}

function signOut() {
  session.clear();
  showSignIn('');
}

window.addEventListener('unhandledrejection', (e) => {
  if (!onError(e.reason)) showBanner(e.reason && e.reason.describe ? e.reason.describe() : String(e.reason));
});
$('signin-form').addEventListener('submit', signIn);
$('signout').addEventListener('click', signOut);
window.addEventListener('hashchange', () => { if (session.key()) render(); });
if (session.key()) showApp(); else showSignIn('');
document.body.dataset.ready = 'true';
