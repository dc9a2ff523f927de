// Small DOM and formatting helpers shared by the pages. Text always goes in
// through textContent (never innerHTML), so server strings cannot inject markup.

// el('button', {class: 'x', onclick: fn}, 'text', child...)
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else if (k === 'value') e.value = v;
    else if (v === true) e.setAttribute(k, '');
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function replace(parent, ...children) {
  parent.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

// A table: columns [{title, cell: (row) => Node|string}], rows.
export function table(columns, rows, { empty = 'none', rowAttrs } = {}) {
  const head = el('tr', {}, columns.map((c) => el('th', {}, c.title)));
  const body = rows.length === 0
    ? [el('tr', {}, el('td', { colspan: String(columns.length), class: 'muted' }, empty))]
    : rows.map((r) => el('tr', rowAttrs ? rowAttrs(r) : {}, columns.map((c) => el('td', {}, c.cell(r)))));
  return el('table', {}, el('thead', {}, head), el('tbody', {}, body));
}

// A status line that shows the last action's outcome or error.
export function statusLine() {
  const p = el('p', { class: 'status', role: 'status' });
  return {
    node: p,
    ok(text) { p.className = 'status ok'; p.textContent = text; },
    error(err) { p.className = 'status error'; p.textContent = err.describe ? err.describe() : String(err.message || err); },
    clear() { p.className = 'status'; p.textContent = ''; },
  };
}

export function bytes(n) {
  if (n === null || n === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

export function when(seconds) {
  if (!seconds) return '-';
  return new Date(seconds * 1000).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

export function num(n) {
  return n === null || n === undefined ? '-' : Number(n).toLocaleString('en-US');
}

// A labelled form field; returns {node, input}.
export function field(label, input) {
  const id = `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return { node: el('div', { class: 'field' }, el('label', { for: id }, label), input), input };
}

export function select(options, value) {
  const s = el('select');
  for (const o of options) {
    const [v, text] = Array.isArray(o) ? o : [o, o];
    s.append(el('option', { value: v }, text));
  }
  if (value !== undefined) s.value = value;
  return s;
}

// Runs fn every `ms` until the returned stop() is called; a failure is
// reported through onError and polling continues.
export function poll(fn, ms, onError) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    try { await fn(); } catch (e) { onError(e); }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}
