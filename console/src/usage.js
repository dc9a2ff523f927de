// Usage: tokens per team or per model per day over a chosen range, as a
// chart (uPlot, bundled from npm) and a table; CSV export of the same rows
// through the API's text/csv answer.
import { api } from './api.js';
import { el, replace, table, statusLine, num, field, select } from './ui.js';

const day = (d) => d.toISOString().slice(0, 10);
const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d'];

function days(from, to) {
  const out = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`) && out.length < 400; t += 86400000) {
    out.push(day(new Date(t)));
  }
  return out;
}

// rows -> {groups: [name], series: {name: [tokens per day]}}
function aggregate(rows, by, dayList) {
  const index = new Map(dayList.map((d, i) => [d, i]));
  const series = new Map();
  for (const r of rows) {
    const g = r[by];
    if (!series.has(g)) series.set(g, new Array(dayList.length).fill(0));
    const i = index.get(r.day);
    if (i !== undefined) series.get(g)[i] += r.total_tokens;
  }
  return series;
}

// x is the day's index in the range; the axis and legend show the UTC day.
function chart(container, dayList, series) {
  const width = Math.max(320, container.clientWidth || 800);
  const names = [...series.keys()];
  const dayOf = (v) => (Number.isInteger(v) && dayList[v] ? dayList[v].slice(5) : '');
  const opts = {
    width, height: 260,
    scales: { x: { time: false } },
    axes: [
      { incrs: [1, 2, 7, 14, 28], values: (u, splits) => splits.map(dayOf) },
      { label: 'tokens', size: 70 },
    ],
    series: [
      { label: 'day', value: (u, v) => (v === null ? '--' : dayList[v]) },
      ...names.map((n, i) => ({ label: n, stroke: PALETTE[i % PALETTE.length], width: 2, points: { show: true } })),
    ],
  };
  return new window.uPlot(opts, [dayList.map((d, i) => i), ...names.map((n) => series.get(n))], container);
}

export default {
  render(root, { onError }) {
    const status = statusLine();
    const now = new Date();
    const from = field('From', el('input', { type: 'date', value: day(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1))) }));
    const to = field('To', el('input', { type: 'date', value: day(now) }));
    const by = field('Per', select([['team', 'team'], ['model', 'model']]));
    const csv = el('button', { type: 'button', class: 'secondary' }, 'Export CSV');
    const form = el('form', { class: 'inline-form', 'aria-label': 'usage range' },
      from.node, to.node, by.node, el('button', { type: 'submit' }, 'Show'), csv);
    const chartBox = el('div', { class: 'chart', 'data-chart': 'usage' });
    const tableBox = el('div');
    root.append(el('h2', {}, 'Usage'), form, status.node, chartBox, tableBox);
    let plot = null;
    const fail = (e) => { if (!onError(e)) status.error(e); };
    const query = () => `from=${encodeURIComponent(from.input.value)}&to=${encodeURIComponent(to.input.value)}&limit=100000`;

    async function show() {
      status.clear();
      const rows = (await api('GET', `/admin/v1/usage?${query()}`)).data;
      const dayList = days(from.input.value, to.input.value);
      const series = aggregate(rows, by.input.value, dayList);
      if (plot) plot.destroy();
      plot = null;
      if (series.size === 0) replace(chartBox, el('p', { class: 'muted' }, 'no usage in this range'));
      else {
        replace(chartBox);
        plot = chart(chartBox, dayList, series);
      }
      replace(tableBox, table([
        { title: 'Day', cell: (r) => r.day },
        { title: 'Team', cell: (r) => r.team },
        { title: 'Model', cell: (r) => r.model },
        { title: 'Key', cell: (r) => r.key_name || r.key_id },
        { title: 'Requests', cell: (r) => num(r.requests) },
        { title: 'Prompt tokens', cell: (r) => num(r.prompt_tokens) },
        { title: 'Completion tokens', cell: (r) => num(r.completion_tokens) },
        { title: 'Total tokens', cell: (r) => num(r.total_tokens) },
      ], rows, { empty: 'no usage in this range', rowAttrs: (r) => ({ 'data-team': r.team, 'data-model': r.model }) }));
    }

    form.addEventListener('submit', (e) => { e.preventDefault(); show().catch(fail); });
    csv.addEventListener('click', async () => {
      try {
        const text = await api('GET', `/admin/v1/usage?${query()}`, undefined, { accept: 'text/csv' });
        const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
        const a = el('a', { href: url, download: `llmd-usage-${from.input.value}-${to.input.value}.csv` });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
        status.ok('CSV exported');
      } catch (e) { fail(e); }
    });
    show().catch(fail);
    return () => { if (plot) plot.destroy(); };
  },
};
