// The admin console in headless Chromium against a real llmd over TLS: the
// flows an operator clicks through (sign in, teams and keys, models on two
// CPU devices, usage, audit, sign out), the same pages with a user key
// (403 shown), and what must never happen (console errors, third-party
// requests, the key in a URL or cookie). Screenshots go to
// $LLMD_CONSOLE_ARTIFACTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, launchBrowser, call, MODEL_FILE } from './harness.mjs';

const artifacts = process.env.LLMD_CONSOLE_ARTIFACTS;
const downloads = path.join(artifacts, 'downloads');
let server;
let browser;
let page;
let newKey = null;  // the user key created through the console
let promptAnswer = '';
// What the page did: uncaught errors, console errors, every request.
const seen = { pageErrors: [], consoleErrors: [], requests: [], expectedStatuses: new Set() };

async function shot(name) {
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}

const bodyHas = (text, timeout = 15000) =>
  page.waitForFunction((t) => document.body.innerText.includes(t), { timeout }, text);

async function open(name) {
  await page.click(`nav a[data-page="${name}"]`);
  await page.waitForSelector(`section.page[data-page="${name}"]`);
}

// The form control a <label> with exactly this text names, as a person finds it.
async function byLabel(text) {
  const h = await page.waitForFunction((t) => {
    const label = [...document.querySelectorAll('label')].find((l) => l.textContent.trim() === t && l.offsetParent);
    return label && document.getElementById(label.htmlFor);
  }, { timeout: 15000 }, text);
  return h.asElement();
}

// The button with exactly this text inside `scope` (a CSS selector).
async function buttonIn(scope, text) {
  const h = await page.waitForFunction((sel, t) => {
    const root = document.querySelector(sel);
    return root && [...root.querySelectorAll('button')].find((b) => b.textContent.trim() === t && !b.disabled);
  }, { timeout: 15000 }, scope, text);
  return h.asElement();
}

async function signIn(key) {
  const field = await byLabel('Admin key');
  await field.evaluate((e) => { e.value = ''; });
  await field.type(key);
  await (await buttonIn('#signin-form', 'Sign in')).click();
}

async function fillField(label, value) {
  const input = await byLabel(label);
  await input.evaluate((e) => { e.value = ''; });
  if (value !== '') await input.type(String(value));
}

before(async () => {
  fs.mkdirSync(downloads, { recursive: true });
  server = await startServer();
  browser = await launchBrowser();
  const context = browser.defaultBrowserContext();
  await context.overridePermissions(server.url, ['clipboard-read', 'clipboard-write', 'clipboard-sanitized-write']);
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  // confirm() is accepted; prompt() (a rotation's grace period) gets promptAnswer.
  page.on('dialog', (d) => (d.type() === 'prompt' ? d.accept(promptAnswer) : d.accept()));
  page.on('pageerror', (e) => seen.pageErrors.push(String(e)));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    // Chromium logs every non-2xx answer; the flows that expect one say so.
    const m = msg.text().match(/status of (\d+)/);
    if (m && seen.expectedStatuses.has(Number(m[1]))) return;
    seen.consoleErrors.push(`${msg.text()} (${msg.location()?.url || ''})`);
  });
  page.on('request', (r) => seen.requests.push({ url: r.url(), headers: r.headers() }));
  const cdp = await page.createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
});

after(async () => {
  if (browser) await browser.close();
  if (server) {
    const code = await server.stop();
    if (code !== 0) console.error(server.logs());
  }
});

test('/admin/ serves the embedded page with a strict CSP and no framing', async () => {
  const res = await fetch(`${server.url}/admin/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/html/);
  const csp = res.headers.get('content-security-policy');
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(res.headers.get('x-frame-options'), 'DENY');
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  const html = await res.text();
  // No inline script, no style element, nothing from another origin.
  for (const tag of html.match(/<script\b[^>]*>/g)) assert.match(tag, / src="assets\/[^"]+"/);
  assert.doesNotMatch(html, /<style|\son[a-z]+=|https?:\/\//);
  for (const ref of html.matchAll(/(?:src|href)="(assets\/[^"]+)"/g)) {
    const a = await fetch(`${server.url}/admin/${ref[1]}`);
    assert.equal(a.status, 200, ref[1]);
    assert.equal(a.headers.get('x-frame-options'), 'DENY');
    await a.arrayBuffer();
  }
  const redirect = await fetch(`${server.url}/admin`, { redirect: 'manual' });
  assert.equal(redirect.status, 308);
  assert.equal(redirect.headers.get('location'), '/admin/');
  assert.equal((await fetch(`${server.url}/admin/assets/nothing.js`)).status, 404);
  // The data behind the page still needs an admin key.
  assert.equal((await fetch(`${server.url}/admin/v1/teams`)).status, 401);
});

test('a wrong key shows an error on the sign-in form, not a blank page', async () => {
  seen.expectedStatuses = new Set([401]);
  await page.goto(`${server.url}/admin/`, { waitUntil: 'load' });
  await page.waitForSelector('body[data-ready="true"]');
  await shot('signin');
  await signIn('llmd_not_a_real_key');
  await page.waitForSelector('#signin-error:not([hidden])');
  const error = await page.$eval('#signin-error', (e) => e.textContent);
  assert.match(error, /401/);
  assert.equal(await page.$eval('#app', (e) => e.hidden), true);
  assert.ok(await byLabel('Admin key'), 'the form is still there');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  await shot('signin-wrong-key');
});

test('a user key cannot sign in: 403 is shown', async () => {
  seen.expectedStatuses = new Set([403]);
  await signIn(server.userKey);
  await page.waitForFunction(() => /403/.test(document.getElementById('signin-error').textContent));
  assert.match(await page.$eval('#signin-error', (e) => e.textContent), /not an admin key/);
  assert.equal(await page.$eval('#app', (e) => e.hidden), true);
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  await shot('signin-user-key');
});

test('an admin key signs in to the overview with both CPU devices', async () => {
  seen.expectedStatuses = new Set();
  await signIn(server.adminKey);
  await page.waitForSelector('#app:not([hidden])');
  await page.waitForSelector('[data-device="cpu:0"] .bar');
  await page.waitForSelector('[data-device="cpu:1"] .bar');
  await page.waitForSelector('[data-stat="tokens-per-second"]');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('llmd.adminKey')), server.adminKey);
  assert.equal(await page.evaluate(() => document.cookie), '');
  await shot('overview');
});

test('teams & keys: create and update a team, create a key and read it once', async () => {
  await open('teams');
  await fillField('Team name', 'console-team');
  await fillField('Weight', '2');
  await fillField('Requests / min', '100');
  await (await buttonIn('#page', 'Save team')).click();
  await page.waitForSelector('tr[data-team="console-team"]');
  let team = (await server.admin('GET', '/admin/v1/teams/console-team')).json();
  assert.equal(team.weight, 2);
  assert.equal(team.rpm_limit, 100);

  // Update: Edit fills the form; an emptied limit is removed.
  await (await buttonIn('tr[data-team="console-team"]', 'Edit')).click();
  await fillField('Weight', '3');
  await fillField('Requests / min', '');
  await (await buttonIn('#page', 'Save team')).click();
  await bodyHas('updated team console-team');
  team = (await server.admin('GET', '/admin/v1/teams/console-team')).json();
  assert.equal(team.weight, 3);
  assert.equal(team.rpm_limit, null);

  await (await byLabel('Team')).select('console-team');
  await fillField('Key name', 'console-key');
  await (await buttonIn('#page', 'Create key')).click();
  const secret = await page.waitForSelector('.secret-value', { visible: true });
  newKey = await secret.evaluate((e) => e.textContent);
  assert.match(newKey, /^llmd_/);
  await page.waitForSelector('tr[data-key-name="console-key"][data-status="active"]');
  await shot('teams-new-key');
  await (await buttonIn('.secret', 'Copy')).click();
  await bodyHas('Copied');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), newKey);
  const models = await call(server.url, newKey, 'GET', '/v1/models');
  assert.equal(models.status, 200);

  // Shown once: after leaving the page the secret is nowhere in it.
  await open('overview');
  await open('teams');
  await page.waitForSelector('tr[data-key-name="console-key"]');
  assert.equal((await page.content()).includes(newKey), false);
  assert.equal(await page.evaluate((k) => JSON.stringify({ ...sessionStorage, ...localStorage }).includes(k), newKey), false);
  await shot('teams');
});

test('models: add from the file list, reach ready, move to cpu:1, unload, remove', async () => {
  await open('models');
  const fileSelect = await byLabel('GGUF file');
  const options = await fileSelect.evaluate((s) => [...s.options].map((o) => o.textContent));
  assert.ok(options.some((o) => o.includes(MODEL_FILE)), options.join(', '));
  await fillField('Model id', 'console-model');
  await (await byLabel('Device')).select('cpu:0');
  await (await buttonIn('#page', 'Add')).click();
  // While it loads (paced by the harness's load_bytes_per_s) the row shows
  // its progress.
  const bar = await page.waitForSelector('tr[data-model="console-model"][data-state="loading"] progress',
    { timeout: 60000 });
  const pct = Number(await bar.evaluate((p) => p.value));
  assert.ok(pct >= 0 && pct < 100, `progress ${pct}`);
  await shot('models-loading');
  await page.waitForSelector('tr[data-model="console-model"][data-state="ready"]', { timeout: 120000 });
  let model = (await server.admin('GET', '/admin/v1/models/console-model')).json();
  assert.equal(model.device, 'cpu:0');

  // Traffic from the new key, for the usage page.
  const done = await call(server.url, newKey, 'POST', '/v1/completions',
    { model: 'console-model', prompt: 'Once upon a time', max_tokens: 8 });
  assert.equal(done.status, 200, done.text);

  // Parking is for GPU models: not offered on a CPU device.
  assert.equal(await page.$$eval('tr[data-model="console-model"] button',
    (bs) => bs.find((b) => b.textContent === 'Park').disabled), true);

  // A refused action shows the server's error and changes nothing.
  seen.expectedStatuses = new Set([409]);
  await (await buttonIn('#page', 'Add')).click();
  await page.waitForFunction(() => /^409 Conflict: /.test(document.querySelector('.status').textContent));
  seen.expectedStatuses = new Set();
  assert.equal((await server.admin('GET', '/admin/v1/models')).json().data.length, 1);

  await page.select('tr[data-model="console-model"] select', 'cpu:1');
  await (await buttonIn('tr[data-model="console-model"]', 'Move')).click();
  await page.waitForFunction(() => {
    const row = document.querySelector('tr[data-model="console-model"]');
    return row && row.dataset.state === 'ready' && row.cells[2].textContent === 'cpu:1';
  }, { timeout: 120000 });
  model = (await server.admin('GET', '/admin/v1/models/console-model')).json();
  assert.equal(model.device, 'cpu:1');
  await shot('models');

  await open('overview');
  await page.waitForFunction(() => document.querySelector('[data-device="cpu:1"]')?.innerText.includes('console-model'));
  // Live: the open overview picks up traffic without a reload.
  await page.waitForFunction(() => document.querySelector('[data-stat="tokens-per-second"] .stat-value').textContent !== '-');
  const more = await call(server.url, newKey, 'POST', '/v1/completions',
    { model: 'console-model', prompt: 'The little dog', max_tokens: 16 });
  assert.equal(more.status, 200, more.text);
  await page.waitForFunction(
    () => Number(document.querySelector('[data-stat="tokens-per-second"] .stat-value').textContent) > 0,
    { timeout: 15000 });
  await shot('overview-model-on-cpu1');

  await open('models');
  await page.waitForSelector('tr[data-model="console-model"][data-state="ready"]');
  await (await buttonIn('tr[data-model="console-model"]', 'Unload')).click();
  await page.waitForSelector('tr[data-model="console-model"][data-state="unloaded"]', { timeout: 60000 });
  assert.equal((await server.admin('GET', '/admin/v1/models/console-model')).json().state, 'unloaded');
  await shot('models-unloaded');

  // The file goes bad on disk: the next load fails and the console shows why.
  const file = path.join(server.modelsDir, MODEL_FILE);
  const bytes = fs.readFileSync(file);
  fs.writeFileSync(`${file}.tmp`, bytes.subarray(0, bytes.length >> 1));
  fs.renameSync(`${file}.tmp`, file);
  await (await buttonIn('tr[data-model="console-model"]', 'Load')).click();
  await page.waitForSelector('tr[data-model="console-model"][data-state="failed"] .model-error', { timeout: 60000 });
  const shown = await page.$eval('tr[data-model="console-model"] .model-error', (e) => e.textContent);
  assert.equal(shown, (await server.admin('GET', '/admin/v1/models/console-model')).json().error);
  assert.ok(shown.length > 0);
  await shot('models-failed-load');

  await (await buttonIn('tr[data-model="console-model"]', 'Remove')).click();
  await page.waitForFunction(() => !document.querySelector('tr[data-model="console-model"]'));
  assert.equal((await server.admin('GET', '/admin/v1/models/console-model')).status, 404);
});

test('usage: the team\'s tokens per day in a chart and a table, CSV export', async () => {
  await open('usage');
  await page.waitForSelector('tr[data-team="console-team"][data-model="console-model"]');
  await page.waitForSelector('.chart canvas');
  const legend = await page.$eval('.chart', (e) => e.innerText);
  assert.match(legend, /console-team/);
  await shot('usage');
  await (await byLabel('Per')).select('model');
  await (await buttonIn('#page', 'Show')).click();
  await page.waitForFunction(() => /console-model/.test(document.querySelector('.chart').innerText));
  await (await buttonIn('#page', 'Export CSV')).click();
  const deadline = Date.now() + 15000;
  let csv = null;
  while (!csv && Date.now() < deadline) {
    const f = fs.readdirSync(downloads).find((n) => n.endsWith('.csv'));
    if (f) csv = fs.readFileSync(path.join(downloads, f), 'utf8');
    else await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(csv, 'a CSV file was downloaded');
  assert.match(csv, /console-team/);
  assert.match(csv, /console-model/);
});

test('rotating the key shows the new key once; with no grace the old one stops', async () => {
  await open('teams');
  promptAnswer = '0';
  await (await buttonIn('tr[data-key-name="console-key"]', 'Rotate')).click();
  await page.waitForFunction((old) => {
    const v = document.querySelector('.secret-value');
    return v && v.textContent !== old && v.textContent.startsWith('llmd_');
  }, {}, newKey);
  const rotated = await page.$eval('.secret-value', (e) => e.textContent);
  await shot('teams-rotated-key');
  assert.equal((await call(server.url, newKey, 'GET', '/v1/models')).status, 401);
  assert.equal((await call(server.url, rotated, 'GET', '/v1/models')).status, 200);
  newKey = rotated;
  await (await buttonIn('.secret', 'Done')).click();
  await page.waitForSelector('.secret', { hidden: true });
});

test('revoking the key in the console makes a request with it fail', async () => {
  await open('teams');
  await page.waitForSelector('tr[data-key-name="console-key"][data-status="active"]');
  await (await buttonIn('tr[data-key-name="console-key"]', 'Revoke')).click();
  await page.waitForFunction(() => !document.querySelector('tr[data-key-name="console-key"]'));
  const res = await call(server.url, newKey, 'GET', '/v1/models');
  assert.equal(res.status, 401);
  await page.click('label.check input');
  await page.waitForSelector('tr[data-key-name="console-key"][data-status="revoked"]');
});

test('the audit log lists what the console did', async () => {
  await open('audit');
  for (const action of ['team.create', 'team.update', 'key.create', 'key.rotate', 'key.revoke', 'model.add', 'model.move',
    'model.unload', 'model.delete']) {
    await page.waitForSelector(`tr[data-action="${action}"]`);
  }
  await shot('audit');
});

test('sign out forgets the key', async () => {
  await (await buttonIn('header', 'Sign out')).click();
  await byLabel('Admin key');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  await page.reload({ waitUntil: 'load' });
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await page.$eval('#app', (e) => e.hidden), true);
  assert.equal(await page.$eval('#signin', (e) => e.hidden), false);
});

test('with a user key every page shows 403 and nothing else', async () => {
  seen.expectedStatuses = new Set([403]);
  // As if the sign-in check were bypassed: the server still refuses.
  await page.evaluate((k) => sessionStorage.setItem('llmd.adminKey', k), server.userKey);
  await page.reload({ waitUntil: 'load' });
  await page.waitForSelector('#app:not([hidden])');
  for (const name of ['overview', 'models', 'teams', 'usage', 'audit']) {
    await open(name);
    await page.waitForFunction(() => /403 Forbidden/.test(document.getElementById('page').innerText));
    assert.equal(await page.$$eval('table tbody tr', (rows) => rows.filter((r) => !r.querySelector('.muted')).length), 0,
      `${name} shows no data`);
    await shot(`user-key-${name}`);
  }
  // An action fails the same way and changes nothing.
  await open('teams');
  await page.waitForFunction(() => /403 Forbidden/.test(document.querySelector('.status').textContent));
  await page.evaluate(() => { document.querySelector('.status').textContent = ''; });
  await fillField('Team name', 'intruders');
  await (await buttonIn('#page', 'Save team')).click();
  await page.waitForFunction(() => /403 Forbidden/.test(document.querySelector('.status').textContent));
  assert.equal((await server.admin('GET', '/admin/v1/teams/intruders')).status, 404);
  await (await buttonIn('header', 'Sign out')).click();
  await byLabel('Admin key');
  seen.expectedStatuses = new Set();
});

test('no console errors, no third-party requests, keys never in a URL or cookie', async () => {
  assert.deepEqual(seen.pageErrors, []);
  assert.deepEqual(seen.consoleErrors, []);
  assert.ok(seen.requests.length > 20);
  for (const r of seen.requests) {
    // blob: is the CSV export, data: Chromium's own date-picker icon.
    assert.ok(/^(blob|data):/.test(r.url) || r.url.startsWith(`${server.url}/`), `request to ${r.url}`);
    for (const k of [server.adminKey, server.userKey, newKey]) {
      assert.equal(r.url.includes(k), false, `key in ${r.url}`);
      assert.equal((r.headers.cookie || '').includes(k), false);
    }
  }
  assert.ok(seen.requests.some((r) => r.headers.authorization === `Bearer ${server.adminKey}`));
  assert.deepEqual(await page.cookies(), []);
});
