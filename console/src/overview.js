// Overview: each device with its memory bar (budget, reserved, used by
// loaded models) and its models; requests running and waiting and tokens
// per second across all models, refreshed every few seconds.
import { api } from './api.js';
import { el, replace, bytes, num, poll } from './ui.js';

const INTERVAL_MS = 3000;

function used(device, modelsById) {
  let sum = 0;
  for (const id of device.models) {
    const m = modelsById.get(id);
    if (m && m.device === device.id) sum += m.memory.actual || 0;
  }
  return sum;
}

function bar(budget, reserved, usedBytes) {
  const pct = (v) => `${budget > 0 ? Math.min(100, (100 * v) / budget).toFixed(1) : 0}%`;
  const reservedPart = el('div', { class: 'bar-reserved' });
  reservedPart.style.width = pct(reserved);
  const usedPart = el('div', { class: 'bar-used' });
  usedPart.style.width = pct(usedBytes);
  return el('div', { class: 'bar', title: `used ${bytes(usedBytes)}, reserved ${bytes(reserved)} of ${bytes(budget)}` },
    reservedPart, usedPart);
}

function deviceCard(d, modelsById) {
  const u = used(d, modelsById);
  const list = d.models.length === 0 ? [el('li', { class: 'muted' }, 'no models')]
    : d.models.map((id) => {
      const m = modelsById.get(id);
      return el('li', {}, el('span', { class: 'model-id' }, id), ' ',
        el('span', { class: `state state-${m ? m.state : 'unknown'}` }, m ? m.state : '?'));
    });
  return el('article', { class: 'card device', 'data-device': d.id },
    el('h3', {}, d.id, ' ', el('span', { class: 'muted' }, d.name || d.kind)),
    bar(d.memory_budget, d.memory_reserved, u),
    el('p', { class: 'legend' },
      el('span', { class: 'key-used' }, `used ${bytes(u)}`), ' · ',
      el('span', { class: 'key-reserved' }, `reserved ${bytes(d.memory_reserved)}`), ' · ',
      `budget ${bytes(d.memory_budget)}`, d.memory_total ? ` of ${bytes(d.memory_total)}` : ''),
    el('ul', { class: 'models' }, list));
}

export default {
  render(root, { onError }) {
    const totals = el('div', { class: 'totals' });
    const devices = el('div', { class: 'cards' });
    const error = el('p', { class: 'error', role: 'alert', hidden: true });
    root.append(el('h2', {}, 'Overview'), error, totals, el('h3', {}, 'Devices'), devices);
    let last = null;  // {t, tokens}: the previous poll, for tokens per second

    return poll(async () => {
      const [dev, mod, stats] = await Promise.all([
        api('GET', '/admin/v1/devices'), api('GET', '/admin/v1/models'), api('GET', '/admin/v1/stats')]);
      error.hidden = true;
      const modelsById = new Map(mod.data.map((m) => [m.id, m]));
      let running = 0;
      let waiting = 0;
      let tokens = 0;
      for (const m of stats.models) {
        running += m.requests.running;
        waiting += m.requests.waiting;
        tokens += m.engine.tokens_processed;
      }
      const now = performance.now();
      let rate = '-';
      if (last && now > last.t && tokens >= last.tokens) rate = ((tokens - last.tokens) / ((now - last.t) / 1000)).toFixed(1);
      last = { t: now, tokens };
      const ready = mod.data.filter((m) => m.state === 'ready').length;
      const stat = (label, value, name) => el('div', { class: 'stat', 'data-stat': name },
        el('span', { class: 'stat-value' }, value), el('span', { class: 'stat-label' }, label));
      replace(totals,
        stat('requests running', num(running), 'running'),
        stat('requests waiting', num(waiting), 'waiting'),
        stat('tokens / s', rate, 'tokens-per-second'),
        stat('models ready', `${ready} / ${mod.data.length}`, 'models-ready'));
      replace(devices, dev.data.map((d) => deviceCard(d, modelsById)));
    }, INTERVAL_MS, (e) => {
      if (onError(e)) return;
      error.textContent = e.describe ? e.describe() : String(e);
      error.hidden = false;
    });
  },
};
