// Starts a real llmd over TLS for the console's browser tests and benchmark:
// two CPU devices ([devices] cpu_partitions = 2), a synthetic GGUF model in
// model_dirs that is not yet in the catalog (the console adds it), the first
// admin key from `llmd bootstrap-admin`, and a user key of another team made
// through the admin API. Also launches the system Chromium through
// puppeteer-core, trusting only the test certificate.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

export const MODEL_FILE = 'console-synth.gguf';

function waitFor(child, output, pattern, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`llmd did not get ready in ${ms} ms:\n${output.text}`)), ms);
    const check = () => {
      const m = output.text.match(pattern);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stderr.on('data', check);
    child.stdout.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`llmd exited with ${code}:\n${output.text}`));
    });
    check();
  });
}

export async function call(url, key, method, route, body) {
  const res = await fetch(url + route, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

export async function startServer() {
  const dir = process.env.LLMD_CONSOLE_DIR;
  const llmd = process.env.LLMD_BIN;
  const models = path.join(dir, 'models');
  fs.mkdirSync(models, { recursive: true });
  execFileSync(llmd, ['gguf', 'synth', '--shape', 'test-llama', '--type', 'q8_0', '-o', path.join(models, MODEL_FILE)],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  const config = path.join(dir, 'llmd.toml');
  fs.writeFileSync(config, [
    '[metrics]', 'port = 0', '[server]', 'address = "127.0.0.1"', 'port = 0', 'io_threads = 2', 'drain_timeout_s = 5',
    '[tls]', 'cert_file = "cert.pem"', 'key_file = "key.pem"',
    '[log]', 'level = "info"',
    '[devices]', 'cpu_partitions = 2',
    // Loads paced to about three seconds for the model's 1.5 MB, so that the
    // models page shows their progress.
    '[model_manager]', 'load_bytes_per_s = 500000',
    '[paths]', 'state_dir = "state"', `model_dirs = [${JSON.stringify(models)}]`, '',
  ].join('\n'));
  const boot = execFileSync(llmd, ['bootstrap-admin', '--config', config], { encoding: 'utf8' });
  const adminKey = boot.match(/llmd_[A-Za-z0-9_]+/)?.[0];
  if (!adminKey) throw new Error(`bootstrap-admin printed no key: ${boot}`);

  const child = spawn(llmd, ['serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { text: '' };
  child.stdout.on('data', (d) => { output.text += d; });
  child.stderr.on('data', (d) => { output.text += d; });
  const m = await waitFor(child, output, /ready: serving https:\/\/127\.0\.0\.1:(\d+)/, 30000);
  const url = `https://127.0.0.1:${m[1]}`;

  const team = await call(url, adminKey, 'POST', '/admin/v1/teams', { name: 'outsiders', weight: 1 });
  if (team.status !== 201) throw new Error(`team: ${team.status} ${team.text}`);
  const key = await call(url, adminKey, 'POST', '/admin/v1/keys', { team: 'outsiders', name: 'plain-user', role: 'user' });
  if (key.status !== 201) throw new Error(`key: ${key.status} ${key.text}`);

  return {
    url,
    adminKey,
    userKey: key.json().key,
    modelsDir: models,
    logs: () => output.text,
    admin: (method, route, body) => call(url, adminKey, method, route, body),
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      return exited;
    },
  };
}

export function launchBrowser() {
  return puppeteer.launch({
    executablePath: process.env.CHROMIUM,
    headless: true,
    args: [
      // The browser only ever loads this llmd's own page; CI containers (and
      // root) often lack the user namespaces Chromium's sandbox needs.
      '--no-sandbox',
      `--ignore-certificate-errors-spki-list=${process.env.LLMD_CERT_SPKI}`,
      '--disable-dev-shm-usage', '--no-first-run', '--disable-extensions',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}
