// Models: every model with state, device, memory and last use, and the
// actions of the model manager (add from the GGUF files under model_dirs,
// load, unload, move, park, remove), each one admin API call. Loading
// progress and a failed load's error come from polling the list.
import { api, seg } from './api.js';
import { el, replace, table, statusLine, bytes, when, field, select, poll } from './ui.js';

const INTERVAL_MS = 1500;

function stateCell(m) {
  const parts = [el('span', { class: `state state-${m.state}` }, m.state)];
  if (m.state === 'loading' && m.progress.bytes_total > 0) {
    const pct = Math.floor((100 * m.progress.bytes_done) / m.progress.bytes_total);
    const p = el('progress', { max: '100', value: String(pct), title: `${pct}%` });
    parts.push(' ', p, ` ${pct}%`);
  }
  if (m.error) parts.push(el('div', { class: 'error model-error' }, m.error));
  return parts;
}

// 1443072 -> "1.4M", 7241732096 -> "7.2B".
function params(n) {
  if (!n) return '';
  for (const [d, unit] of [[1e9, 'B'], [1e6, 'M'], [1e3, 'K']]) if (n >= d) return `${(n / d).toFixed(1)}${unit}`;
  return String(n);
}

function memoryCell(m) {
  if (m.memory.actual) return bytes(m.memory.actual);
  return m.memory.estimate ? `~${bytes(m.memory.estimate)}` : '-';
}

export default {
  render(root, { onError }) {
    const status = statusLine();
    const list = el('div', { class: 'list' });
    const addBox = el('div');
    root.append(el('h2', {}, 'Models'), status.node, list, el('h3', {}, 'Add a model'), addBox);
    let deviceIds = [];
    let filesShown = false;
    let drawn = '';             // what the table shows: redrawn only when it changes
    const chosen = new Map();   // model id -> device picked in its row

    const fail = (e) => { if (!onError(e)) status.error(e); };
    const act = async (what, method, path, body) => {
      status.clear();
      try {
        await api(method, path, body);
        status.ok(what);
        await refresh();
      } catch (e) { fail(e); }
    };

    function row(m) {
      const initial = chosen.get(m.id) || (m.device && deviceIds.includes(m.device) ? m.device : deviceIds[0]);
      const target = select(deviceIds, initial);
      target.setAttribute('aria-label', `device for ${m.id}`);
      target.addEventListener('change', () => chosen.set(m.id, target.value));
      const id = seg(m.id);
      const button = (label, fn, enabled = true) => el('button', { type: 'button', class: 'small', onclick: fn, disabled: !enabled }, label);
      const busy = m.state === 'loading' || m.state === 'unloading';
      return el('div', { class: 'actions' }, target,
        button('Load', () => act(`loading ${m.id}`, 'POST', `/admin/v1/models/${id}/load`, { device: target.value }), !busy && m.state !== 'ready'),
        button('Move', () => act(`moving ${m.id} to ${target.value}`, 'POST', `/admin/v1/models/${id}/move`, { device: target.value }), m.state === 'ready' || m.state === 'parked'),
        // Parking keeps a GPU model's file mapping while freeing device memory; CPU models cannot park.
        button('Park', () => act(`parking ${m.id}`, 'POST', `/admin/v1/models/${id}/move`, { device: 'host' }),
          m.state === 'ready' && !String(m.device).startsWith('cpu')),
        button('Unload', () => act(`unloading ${m.id}`, 'POST', `/admin/v1/models/${id}/unload`), m.state === 'ready' || m.state === 'parked'),
        button('Remove', () => {
          if (window.confirm(`Remove ${m.id} from the catalog?`)) act(`removed ${m.id}`, 'DELETE', `/admin/v1/models/${id}`);
        }, m.source !== 'config' && !busy));
    }

    async function showAddForm() {
      const files = await api('GET', '/admin/v1/model-files');
      const usable = files.data.filter((f) => !f.error);
      const file = field('GGUF file', select(usable.map((f) => [f.path,
        `${f.path.split('/').pop()} (${[f.architecture, params(f.parameters), f.quantization].filter(Boolean).join(', ')}, ${bytes(f.bytes)})`])));
      // Files that are not usable GGUF models are listed with the reason, not offered.
      for (const f of files.data.filter((x) => x.error)) {
        file.input.append(el('option', { value: f.path, disabled: true }, `${f.path.split('/').pop()}: ${f.error}`));
      }
      const id = field('Model id', el('input', { type: 'text', required: true, placeholder: 'e.g. llama-3-8b' }));
      const device = field('Device', select([['', 'automatic'], ...deviceIds]));
      const suggest = () => { id.input.value = (file.input.value.split('/').pop() || '').replace(/\.gguf$/i, ''); };
      file.input.addEventListener('change', suggest);
      suggest();
      const form = el('form', { class: 'inline-form', 'aria-label': 'add a model' },
        file.node, id.node, device.node, el('button', { type: 'submit' }, 'Add'));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        const body = { id: id.input.value.trim(), path: file.input.value };
        if (device.input.value) body.device = device.input.value;
        act(`adding ${body.id}`, 'POST', '/admin/v1/models', body);
      });
      replace(addBox, usable.length ? form : el('p', { class: 'muted' }, 'No usable GGUF files under model_dirs.'));
    }

    async function refresh() {
      const [mod, dev] = await Promise.all([api('GET', '/admin/v1/models'), api('GET', '/admin/v1/devices')]);
      deviceIds = dev.data.map((d) => d.id);
      const now = JSON.stringify([mod.data, deviceIds]);
      if (now !== drawn) {
        drawn = now;
        drawTable(mod.data);
      }
      if (!filesShown) {
        filesShown = true;
        await showAddForm();
      }
    }

    function drawTable(data) {
      replace(list, table([
        { title: 'Model', cell: (m) => el('span', { class: 'model-id' }, m.id) },
        { title: 'State', cell: stateCell },
        { title: 'Device', cell: (m) => m.device || '-' },
        { title: 'Memory', cell: memoryCell },
        { title: 'Requests', cell: (m) => `${m.requests.running} running, ${m.requests.waiting} waiting` },
        { title: 'Last use', cell: (m) => when(m.last_used_at) },
        { title: 'Actions', cell: row },
      ], data, { empty: 'no models yet', rowAttrs: (m) => ({ 'data-model': m.id, 'data-state': m.state }) }));
    }

    return poll(refresh, INTERVAL_MS, (e) => { filesShown = false; fail(e); });
  },
};
