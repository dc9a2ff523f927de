// Starts a real llmd over TLS for the compatibility tests: a config in the
// work folder (whose self-signed certificate the driver made and handed to
// Node through NODE_EXTRA_CA_CERTS), the first admin key from
// `llmd bootstrap-admin`, and a team with a user key made through the admin API.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const MODEL_ID = 'stories260K';
export const MODEL_ALIAS = 'org/stories260K';
// The same model with a Hermes-style Jinja template, for tool calls.
export const TOOLS_MODEL_ID = 'stories260K-tools';
const HERMES_TEMPLATE =
  '{% if tools %}<tools>{% for t in tools %}{{ t | tojson }}{% endfor %}</tools> Answer with ' +
  '<tool_call>{"name": ..., "arguments": ...}</tool_call>\n{% endif %}' +
  '{% for m in messages %}{{ m.role }}: {% if m.tool_calls %}{% for c in m.tool_calls %}<tool_call>' +
  '{{ c.function | tojson }}</tool_call>{% endfor %}{% else %}{{ m.content }}{% endif %}\n{% endfor %}' +
  '{% if add_generation_prompt %}assistant:{% endif %}';

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

async function adminCall(url, key, method, route, body) {
  const res = await fetch(url + route, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${route}: ${res.status} ${text}`);
  return JSON.parse(text);
}

// `extraModels`: more models served beside stories260K, {name, path} each.
// `stateDir`: the state folder inside the work folder (one per server).
export async function startServer({ extraModels = [], stateDir = 'state' } = {}) {
  const dir = process.env.LLMD_COMPAT_DIR;
  const llmd = process.env.LLMD_BIN;
  const model = process.env.LLMD_MODEL;
  const config = path.join(dir, 'llmd.toml');
  const dirs = [...new Set([model, ...extraModels.map((m) => m.path)].map((p) => path.dirname(p)))];
  fs.writeFileSync(path.join(dir, 'hermes.jinja'), HERMES_TEMPLATE);
  fs.writeFileSync(config, [
    '[metrics]', 'port = 0', '[server]', 'address = "127.0.0.1"', 'port = 0', 'io_threads = 2', 'drain_timeout_s = 5',
    '[tls]', 'cert_file = "cert.pem"', 'key_file = "key.pem"',
    '[log]', 'level = "info"',
    '[paths]', `state_dir = "${stateDir}"`, `model_dirs = ${JSON.stringify(dirs)}`,
    '[[models]]', `name = "${MODEL_ID}"`, `path = ${JSON.stringify(model)}`, `aliases = ["${MODEL_ALIAS}"]`,
    'max_sequences = 8', 'max_choices = 4', 'threads = 1',
    '[[models]]', `name = "${TOOLS_MODEL_ID}"`, `path = ${JSON.stringify(model)}`,
    `chat_template = ${JSON.stringify(path.join(dir, 'hermes.jinja'))}`, 'max_sequences = 8', 'threads = 1',
    ...extraModels.flatMap((m) => ['[[models]]', `name = ${JSON.stringify(m.name)}`, `path = ${JSON.stringify(m.path)}`,
      'threads = 1']),
    '',
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

  await adminCall(url, adminKey, 'POST', '/admin/v1/teams', { name: 'compat', weight: 1 });
  const key = await adminCall(url, adminKey, 'POST', '/admin/v1/keys', { team: 'compat', name: 'node', role: 'user' });

  return {
    url,
    baseURL: `${url}/v1`,
    adminKey,
    userKey: key.key,
    logs: () => output.text,
    admin: (method, route, body) => adminCall(url, adminKey, method, route, body),
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      return exited;
    },
  };
}

// `llmd generate` on the same model: greedy continuation of `prompt`.
export function generate(prompt, n) {
  return execFileSync(process.env.LLMD_BIN, ['generate', '-m', process.env.LLMD_MODEL, '-p', prompt, '-n', String(n),
    '--threads', '1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).replace(/\n$/, '');
}

// `llmd tokenize --bos`: the number of tokens a completion prompt takes.
export function countTokens(text) {
  const out = execFileSync(process.env.LLMD_BIN, ['tokenize', '-m', process.env.LLMD_MODEL, '--bos'],
    { input: text, encoding: 'utf8' });
  return out.trim().split(/\s+/).filter(Boolean).length;
}
