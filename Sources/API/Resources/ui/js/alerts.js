// The Alerts page: three tabs, each its own address so a filtered history can be linked to —
// rules (#/alerts), channels (#/alerts/channels) and history (#/alerts/history?…).
import { pageHeader } from './components.js';
import { h, replace } from './dom.js';
import { renderChannels } from './alert-channels.js';
import { renderHistory } from './alert-history.js';
import { renderRules } from './alert-rules.js';

const TABS = [
  { id: 'rules', label: 'Rules', href: '#/alerts' },
  { id: 'channels', label: 'Channels', href: '#/alerts/channels' },
  { id: 'history', label: 'History', href: '#/alerts/history' },
];

/** `tab` is rules, channels or history; `params` the history's filters. */
export async function renderAlerts(main, tab = 'rules', params = new URLSearchParams()) {
  const body = h('div', { class: 'alerts-body' });
  replace(main,
    pageHeader('Alerts', 'Be told when a run fails, recovers, runs late or runs long: rules say when, channels say where.'),
    h('nav', { class: 'tabs', 'aria-label': 'Alerts' }, TABS.map((t) => h('a', {
      href: t.href, class: 'tab', 'data-tab': t.id, 'aria-current': t.id === tab ? 'page' : null,
    }, t.label))),
    body);
  if (tab === 'channels') return renderChannels(body);
  if (tab === 'history') return renderHistory(body, params);
  return renderRules(body);
}
