// Teams & keys: create and update teams (weight, limits, allowed models);
// create keys (the secret is shown once, with a copy button, and is not kept
// anywhere by the page), revoke and rotate them.
import { api, seg } from './api.js';
import { el, replace, table, statusLine, when, num, field, select } from './ui.js';

const LIMITS = [
  ['rpm_limit', 'Requests / min'], ['tpm_limit', 'Tokens / min'], ['daily_token_budget', 'Daily tokens'],
  ['monthly_token_budget', 'Monthly tokens'], ['max_concurrent', 'Max concurrent'],
];

function numberOrNull(text, name) {
  const t = text.trim();
  if (t === '') return null;
  const n = Number(t);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number`);
  return n;
}

export default {
  render(root, { onError }) {
    const status = statusLine();
    const teamList = el('div');
    const keyList = el('div');
    const secretBox = el('div', { class: 'secret', hidden: true });
    const fail = (e) => { if (!onError(e)) status.error(e); };

    // Team form: create when the name is new, update (PATCH) otherwise.
    const name = field('Team name', el('input', { type: 'text', required: true }));
    const weight = field('Weight', el('input', { type: 'number', min: '0', step: 'any', value: '1' }));
    const limits = LIMITS.map(([k, label]) => ({ k, label, ...field(label, el('input', { type: 'number', min: '0', placeholder: 'none' })) }));
    const allowed = field('Allowed models', el('input', { type: 'text', placeholder: 'all (or ids, comma-separated)' }));
    const teamForm = el('form', { class: 'inline-form', 'aria-label': 'team' },
      name.node, weight.node, limits.map((l) => l.node), allowed.node,
      el('button', { type: 'submit', name: 'create' }, 'Save team'));

    const keyTeam = field('Team', select([]));
    const keyName = field('Key name', el('input', { type: 'text', required: true }));
    const keyRole = field('Role', select(['user', 'admin']));
    const showRevoked = el('input', { type: 'checkbox' });
    const keyForm = el('form', { class: 'inline-form', 'aria-label': 'new key' },
      keyTeam.node, keyName.node, keyRole.node, el('button', { type: 'submit' }, 'Create key'));

    root.append(el('h2', {}, 'Teams & keys'), status.node,
      el('h3', {}, 'Teams'), teamList, teamForm,
      el('h3', {}, 'Keys'), secretBox, keyForm,
      el('label', { class: 'check' }, showRevoked, ' show revoked and expired keys'), keyList);

    let teams = [];

    function showSecret(title, key) {
      const value = el('code', { class: 'secret-value' }, key);
      const copy = el('button', { type: 'button', class: 'small', onclick: async () => {
        try {
          await navigator.clipboard.writeText(key);
          copy.textContent = 'Copied';
        } catch {
          getSelection().selectAllChildren(value);
          copy.textContent = 'Press Ctrl+C';
        }
      } }, 'Copy');
      const done = el('button', { type: 'button', class: 'small secondary', onclick: () => { replace(secretBox); secretBox.hidden = true; } }, 'Done');
      replace(secretBox, el('p', {}, title, ' This is the only time it is shown.'), el('div', { class: 'secret-row' }, value, copy, done));
      secretBox.hidden = false;
    }

    function editTeam(t) {
      name.input.value = t.name;
      weight.input.value = t.weight;
      for (const l of limits) l.input.value = t[l.k] ?? '';
      allowed.input.value = (t.allowed_models || []).join(', ');
      name.input.focus();
    }

    async function loadTeams() {
      teams = (await api('GET', '/admin/v1/teams')).data;
      replace(teamList, table([
        { title: 'Team', cell: (t) => t.name },
        { title: 'Weight', cell: (t) => t.weight },
        ...LIMITS.map(([k, label]) => ({ title: label, cell: (t) => (t[k] === null ? '-' : num(t[k])) })),
        { title: 'Models', cell: (t) => ((t.allowed_models || []).length ? t.allowed_models.join(', ') : 'all') },
        { title: 'Active keys', cell: (t) => t.active_keys ?? '-' },
        { title: '', cell: (t) => el('button', { type: 'button', class: 'small secondary', onclick: () => editTeam(t) }, 'Edit') },
      ], teams, { empty: 'no teams', rowAttrs: (t) => ({ 'data-team': t.name }) }));
      const current = keyTeam.input.value;
      replace(keyTeam.input, teams.map((t) => el('option', { value: t.name }, t.name)));
      if (teams.some((t) => t.name === current)) keyTeam.input.value = current;
    }

    async function loadKeys() {
      const keys = (await api('GET', `/admin/v1/keys${showRevoked.checked ? '?include_revoked=true' : ''}`)).data;
      replace(keyList, table([
        { title: 'Id', cell: (k) => el('code', {}, k.id) },
        { title: 'Team', cell: (k) => k.team },
        { title: 'Name', cell: (k) => k.name },
        { title: 'Role', cell: (k) => k.role },
        { title: 'Status', cell: (k) => el('span', { class: `state state-${k.status}` }, k.status) },
        { title: 'Created', cell: (k) => when(k.created_at) },
        { title: 'Last used', cell: (k) => when(k.last_used_at) },
        { title: '', cell: (k) => (k.status !== 'active' ? '' : el('div', { class: 'actions' },
          el('button', { type: 'button', class: 'small', onclick: () => rotate(k) }, 'Rotate'),
          el('button', { type: 'button', class: 'small danger', onclick: () => revoke(k) }, 'Revoke'))) },
      ], keys, { empty: 'no keys', rowAttrs: (k) => ({ 'data-key-id': k.id, 'data-key-name': k.name, 'data-status': k.status }) }));
    }

    async function refresh() {
      await Promise.all([loadTeams(), loadKeys()]);
    }

    async function revoke(k) {
      if (!window.confirm(`Revoke key ${k.name} (${k.id})? Requests with it fail at once.`)) return;
      status.clear();
      try {
        await api('DELETE', `/admin/v1/keys/${seg(k.id)}`);
        status.ok(`revoked ${k.name}`);
        await refresh();
      } catch (e) { fail(e); }
    }

    async function rotate(k) {
      const grace = window.prompt(`Rotate ${k.name}: seconds the old key keeps working`, '3600');
      if (grace === null) return;
      status.clear();
      try {
        const r = await api('POST', `/admin/v1/keys/${seg(k.id)}/rotate`, { grace_seconds: Number(grace) || 0 });
        showSecret(`New key for ${k.name}:`, r.key);
        status.ok(`rotated ${k.name}`);
        await refresh();
      } catch (e) { fail(e); }
    }

    teamForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      status.clear();
      try {
        const body = { weight: Number(weight.input.value || '1') };
        for (const l of limits) body[l.k] = numberOrNull(l.input.value, l.label);
        const models = allowed.input.value.split(',').map((s) => s.trim()).filter(Boolean);
        const n = name.input.value.trim();
        if (teams.some((t) => t.name === n)) {
          body.allowed_models = models;
          await api('PATCH', `/admin/v1/teams/${seg(n)}`, body);
          status.ok(`updated team ${n}`);
        } else {
          for (const k of Object.keys(body)) if (body[k] === null) delete body[k];
          if (models.length) body.allowed_models = models;
          await api('POST', '/admin/v1/teams', { name: n, ...body });
          status.ok(`created team ${n}`);
        }
        await refresh();
      } catch (err) { fail(err); }
    });

    keyForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      status.clear();
      try {
        const r = await api('POST', '/admin/v1/keys',
          { team: keyTeam.input.value, name: keyName.input.value.trim(), role: keyRole.input.value });
        showSecret(`Key ${r.name || keyName.input.value} (${r.id}) for team ${keyTeam.input.value}:`, r.key);
        keyName.input.value = '';
        status.ok('key created');
        await loadKeys();
      } catch (err) { fail(err); }
    });

    showRevoked.addEventListener('change', () => loadKeys().catch(fail));
    refresh().catch(fail);
    return null;
  },
};
