// A workflow page's Alerts section: the rules that cover the workflow (its own and the
// all-workflows ones, enabled or not) and its last 10 alerts, with a way to add a rule for it.
import { ApiError, get } from './api.js';
import { emptyState } from './components.js';
import { h, replace } from './dom.js';
import { eventChips, throttleText } from './alert-format.js';
import { alertsTable } from './alert-history.js';
import { channelNames, openRuleDialog } from './alert-rules.js';
import { icon } from './icons.js';

/** `{ element, refresh }`; the section hides itself against an API without alerts (a 404). */
export function workflowAlerts(workflowId) {
  const rulesBody = h('div', { 'data-testid': 'workflow-alert-rules' });
  const alertsBody = h('div', { class: 'card table-card', 'data-testid': 'workflow-alerts' });
  let shown = '';
  let missing = false;
  const element = h('section', { 'aria-labelledby': 'alerts-title', class: 'workflow-alerts', hidden: true },
    h('div', { class: 'section-head' }, h('h2', { id: 'alerts-title' }, 'Alerts'),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', onclick: () => openRuleDialog({ workflowIds: [workflowId], changed: () => refresh() }) }, icon('plus'), 'New alert rule'),
        h('a', { href: `#/alerts/history?workflow_id=${workflowId}` }, 'Alerts page →'))),
    h('h3', { class: 'sub-title' }, 'Rules that cover it'), rulesBody,
    h('h3', { class: 'sub-title' }, 'Last alerts'), alertsBody);

  async function refresh() {
    if (missing) return;
    let rules;
    let alerts;
    try {
      [rules, alerts] = await Promise.all([
        get(`/alert-rules?workflow_id=${workflowId}`).then((a) => a.alert_rules),
        get(`/alerts?workflow_id=${workflowId}&limit=10`).then((a) => a.alerts),
      ]);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) { missing = true; element.hidden = true; return; }
      throw error;
    }
    element.hidden = false;
    const signature = JSON.stringify([rules, alerts]);
    if (signature === shown) return;
    shown = signature;
    replace(rulesBody, rules.length
      ? h('ul', { class: 'rule-items' }, rules.map(ruleItem))
      : h('p', { class: 'muted' }, 'No rule covers this workflow: a failure alerts no one. ', h('a', { href: '#/alerts' }, 'Alert rules →')));
    replace(alertsBody, alerts.length ? alertsTable(alerts, { compact: true }) : emptyState('No alerts yet', 'When a rule’s event happens to this workflow, the alert shows here.'));
  }

  return { element, refresh };
}

function ruleItem(rule) {
  return h('li', { class: `rule-item card ${rule.enabled ? '' : 'disabled'}`, 'data-rule-id': rule.id },
    h('div', { class: 'rule-item-head' },
      h('a', { href: '#/alerts', class: 'strong' }, rule.name),
      rule.all_workflows ? h('span', { class: 'badge all-workflows' }, 'All workflows') : null,
      rule.enabled ? null : h('span', { class: 'badge' }, 'Disabled')),
    eventChips(rule.events),
    h('span', { class: 'muted small' }, ' → ', channelNames(rule),
      rule.throttle_minutes ? `, ${throttleText(rule.throttle_minutes)}` : null));
}
