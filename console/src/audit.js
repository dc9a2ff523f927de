// Audit log: the latest admin actions, newest first (every console action
// is recorded here as it would be from llmctl).
import { api } from './api.js';
import { el, replace, table, statusLine, when } from './ui.js';

const LIMIT = 200;

export default {
  render(root, { onError }) {
    const status = statusLine();
    const list = el('div');
    const refreshButton = el('button', { type: 'button', class: 'secondary' }, 'Refresh');
    root.append(el('h2', {}, 'Audit log'), el('p', {}, `The latest ${LIMIT} admin actions. `, refreshButton), status.node, list);

    async function load() {
      status.clear();
      const entries = (await api('GET', `/admin/v1/audit?limit=${LIMIT}`)).data;
      replace(list, table([
        { title: 'Time', cell: (e) => when(e.at) },
        { title: 'Actor', cell: (e) => e.actor },
        { title: 'Action', cell: (e) => el('code', {}, e.action) },
        { title: 'Target', cell: (e) => e.target },
        { title: 'Detail', cell: (e) => (typeof e.detail === 'string' ? e.detail : JSON.stringify(e.detail)) },
      ], entries, { empty: 'no admin actions yet', rowAttrs: (e) => ({ 'data-action': e.action }) }));
    }
    const fail = (e) => { if (!onError(e)) status.error(e); };
    refreshButton.addEventListener('click', () => load().catch(fail));
    load().catch(fail);
    return null;
  },
};
