// Alert history: every alert raised, newest first, with each channel's delivery; filters by
// rule, workflow, channel and outcome; "Load older" pages back; an alert opens its attempts.
import { allWorkflows, get, query } from './api.js';
import { emptyState, errorState, loading, poll, toast } from './components.js';
import { formatDuration, formatTime, formatTimeWithSeconds, h, openDialog, relative, replace } from './dom.js';
import { alertEventText, deliveryBadge, eventChip } from './alert-format.js';
import { icon } from './icons.js';

const OUTCOMES = [
  { id: 'pending', label: 'Pending (or sending)' },
  { id: 'delivered', label: 'Delivered' },
  { id: 'failed', label: 'Failed' },
];
const PAGE = 50;

export async function renderHistory(container, params) {
  const filters = {
    rule_id: params.get('rule_id') || '', workflow_id: params.get('workflow_id') || '',
    channel_id: params.get('channel_id') || '', outcome: params.get('outcome') || '',
  };
  // As on Executions: the newest page follows the API; after "Load older", `floor` is the oldest
  // id shown and each refresh reads everything down to it.
  let floor = null;
  const body = h('div', { class: 'card table-card' }, loading('Loading alerts…'));
  const ruleSelect = filterSelect('filter-rule', 'All rules', filters.rule_id);
  const workflowSelect = filterSelect('filter-workflow', 'All workflows', filters.workflow_id);
  const channelSelect = filterSelect('filter-channel', 'All channels', filters.channel_id);
  const outcomeSelect = filterSelect('filter-outcome', 'Any outcome', filters.outcome, OUTCOMES);
  const live = h('span', { class: 'live', title: 'The list refreshes every 3 seconds while this tab is visible.' }, h('span', { class: 'live-dot', 'aria-hidden': 'true' }), 'Live');

  replace(container,
    h('section', { 'aria-labelledby': 'history-title' },
      h('div', { class: 'section-head' }, h('h2', { id: 'history-title' }, 'History'), live),
      h('div', { class: 'filters', role: 'search' },
        h('div', { class: 'field' }, h('label', { for: 'filter-rule' }, 'Rule'), ruleSelect),
        h('div', { class: 'field' }, h('label', { for: 'filter-workflow' }, 'Workflow'), workflowSelect),
        h('div', { class: 'field' }, h('label', { for: 'filter-channel' }, 'Channel'), channelSelect),
        h('div', { class: 'field' }, h('label', { for: 'filter-outcome' }, 'Outcome'), outcomeSelect)),
      body));

  // The choices load beside the list; a filter from the address is kept until they arrive.
  const fill = (select, items, chosen) => {
    for (const placeholder of select.querySelectorAll('[data-placeholder]')) placeholder.remove();
    select.append(...items.map((item) => h('option', { value: item.id }, item.name)));
    select.value = chosen;
  };
  get('/alert-rules').then((a) => fill(ruleSelect, a.alert_rules, filters.rule_id)).catch(() => {});
  allWorkflows().then((workflows) => fill(workflowSelect, workflows, filters.workflow_id)).catch(() => {});
  get('/alert-channels').then((a) => fill(channelSelect, a.alert_channels, filters.channel_id)).catch(() => {});

  async function fetchRows() {
    const first = await get(`/alerts${query({ ...filters, limit: PAGE })}`);
    const alerts = [...first.alerts];
    let next = first.next_before_id;
    while (floor !== null && next && next > floor) {
      const page = await get(`/alerts${query({ ...filters, limit: 200, before_id: next })}`);
      alerts.push(...page.alerts);
      next = page.next_before_id;
    }
    if (floor === null) return { alerts, older: Boolean(next) };
    return { alerts: alerts.filter((a) => a.id >= floor), older: Boolean(next) || alerts.some((a) => a.id < floor) };
  }

  let shown = '';
  let version = 0;  // bumped when the filters or the floor change: an older answer is not shown
  async function refresh() {
    const asked = version;
    let answer;
    try {
      answer = await fetchRows();
      if (asked !== version) return;
    } catch (error) {
      if (asked !== version) return;
      replace(body, errorState(error, refresh));
      shown = '';
      throw error;
    }
    show(answer);
  }

  function show(answer) {
    const signature = JSON.stringify(answer);
    if (signature === shown) return;
    shown = signature;
    const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.focusKey : null;
    if (!answer.alerts.length) {
      const filtered = Object.values(filters).some(Boolean);
      replace(body, emptyState(filtered ? 'No alerts match these filters' : 'No alerts yet',
        filtered ? 'Change or clear the filters above.' : 'Alerts appear here when a rule’s event happens: a run fails, recovers, runs late or runs long.'));
      return;
    }
    const more = answer.older
      ? h('button', { type: 'button', class: 'secondary', 'data-focus-key': 'load-older-alerts', onclick: () => loadOlder(answer.alerts) }, 'Load older')
      : null;
    replace(body, alertsTable(answer.alerts), more);
    if (focused) { const again = body.querySelector(`[data-focus-key="${focused}"]`); if (again) again.focus(); }
  }

  async function loadOlder(alerts) {
    const oldest = alerts[alerts.length - 1].id;
    try {
      const page = await get(`/alerts${query({ ...filters, limit: PAGE, before_id: oldest })}`);
      version += 1;
      if (page.alerts.length) floor = page.alerts[page.alerts.length - 1].id;
      show({ alerts: [...alerts, ...page.alerts], older: Boolean(page.next_before_id) });
    } catch (error) {
      toast(error.message, 'error');
      return;
    }
    const again = body.querySelector('[data-focus-key="load-older-alerts"]') || body.querySelector(`tbody tr:nth-child(${alerts.length + 1}) button`);
    if (again) again.focus();
  }

  function changed() {
    filters.rule_id = ruleSelect.value;
    filters.workflow_id = workflowSelect.value;
    filters.channel_id = channelSelect.value;
    filters.outcome = outcomeSelect.value;
    floor = null;
    version += 1;
    history.replaceState(null, '', `#/alerts/history${query(filters)}`);
    replace(body, loading('Loading alerts…'));
    shown = '';
    refresh().catch(() => {});
  }
  for (const control of [ruleSelect, workflowSelect, channelSelect, outcomeSelect]) control.addEventListener('change', changed);

  return poll(refresh, 3000);
}

function filterSelect(id, anyLabel, selected, options = []) {
  const el = h('select', { id }, h('option', { value: '' }, anyLabel), options.map((o) => h('option', { value: o.id }, o.label)));
  // An id from the address before its option has loaded: hold it as a placeholder option.
  if (selected && !options.some((o) => o.id === selected)) el.append(h('option', { value: selected, 'data-placeholder': 'true' }, `#${selected}`));
  el.value = selected;
  return el;
}

/** Alerts as a table; `compact` leaves out the workflow (on a workflow's own page). */
export function alertsTable(alerts, { compact = false } = {}) {
  const heads = ['Raised', 'Rule', compact ? null : 'Workflow', 'Run', 'Event', 'Held back', 'Deliveries'].filter(Boolean);
  return h('div', { class: 'table-scroll' }, h('table', { class: 'table alerts-table' },
    h('thead', null, h('tr', null, heads.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, alerts.map((alert) => h('tr', { 'data-alert-id': alert.id },
      h('td', { class: 'nowrap' }, h('button', {
        type: 'button', class: 'link-button alert-open', 'data-focus-key': `alert-${alert.id}`, 'aria-label': `Alert ${alert.id}: its attempts`,
        title: `${formatTime(alert.created_at, undefined, true)} (${relative(alert.created_at)}): show every delivery attempt`,
        onclick: () => openAlertDetails(alert.id),
      }, h('time', { datetime: alert.created_at }, formatTime(alert.created_at)))),
      h('td', null, alert.rule_id ? alert.rule_name : h('span', { class: 'muted', title: 'This rule was deleted.' }, `${alert.rule_name} (deleted)`)),
      compact ? null : h('td', { class: 'nowrap' }, h('a', { href: `#/workflows/${alert.workflow_id}` }, alert.workflow_name)),
      h('td', null, alert.execution_id ? h('a', { href: `#/executions/${alert.execution_id}` }, `#${alert.execution_id}`) : '—'),
      h('td', null, eventChip(alertEventText(alert), alert.event)),
      h('td', null, alert.held_back ? h('span', { title: 'Alerts of this rule and workflow the throttle held back, counted into this one.' }, `+${alert.held_back}`) : h('span', { class: 'muted' }, '0')),
      h('td', null, deliveries(alert.deliveries)))))));
}

function deliveries(list) {
  if (!list || !list.length) return h('span', { class: 'muted' }, 'No channel');
  return h('ul', { class: 'deliveries' }, list.map((d) => h('li', { 'data-delivery-status': d.status },
    h('span', { class: 'channel-name' }, d.channel_name), ' ', deliveryBadge(d.status),
    h('span', { class: 'muted small' }, ` ${d.attempts} attempt${d.attempts === 1 ? '' : 's'}`),
    d.last_status_code ? h('span', { class: 'muted small' }, ` · ${d.last_status_code}`) : null,
    d.status !== 'delivered' && d.last_error ? h('span', { class: 'delivery-error small', title: d.last_error }, d.last_error) : null)));
}

/** One alert with each delivery's whole attempt history. */
export async function openAlertDetails(id) {
  const content = h('div', { 'data-testid': 'alert-details' }, loading('Loading the alert…'));
  const dialog = h('dialog', { class: 'dialog wide', 'aria-labelledby': 'alert-title' },
    h('form', { method: 'dialog' },
      h('div', { class: 'dialog-head' }, h('h2', { id: 'alert-title' }, `Alert #${id}`),
        h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close', onclick: () => dialog.close('cancel') }, icon('x'))),
      content,
      h('div', { class: 'dialog-actions' }, h('button', { class: 'primary', value: 'ok' }, 'Done'))));
  openDialog(dialog);
  try {
    replace(content, alertDetails(await get(`/alerts/${id}`)));
  } catch (error) {
    replace(content, errorState(error));
  }
}

function alertDetails(alert) {
  return [
    h('dl', { class: 'facts' },
      h('div', null, h('dt', null, 'Raised'), h('dd', null, formatTime(alert.created_at, undefined, true))),
      h('div', null, h('dt', null, 'Rule'), h('dd', null, alert.rule_name)),
      h('div', null, h('dt', null, 'Workflow'), h('dd', null, h('a', { href: `#/workflows/${alert.workflow_id}`, onclick: closeAround }, alert.workflow_name))),
      h('div', null, h('dt', null, 'Run'), h('dd', null, alert.execution_id ? h('a', { href: `#/executions/${alert.execution_id}`, onclick: closeAround }, `#${alert.execution_id}`) : '—')),
      h('div', null, h('dt', null, 'Event'), h('dd', null, eventChip(alertEventText(alert), alert.event))),
      h('div', null, h('dt', null, 'Held back'), h('dd', null, String(alert.held_back)))),
    (alert.deliveries || []).map((d) => h('section', { class: 'delivery-detail', 'data-delivery-id': d.id },
      h('h3', null, d.channel_name, ' ', h('span', { class: 'muted small' }, d.channel_kind), ' ', deliveryBadge(d.status)),
      h('p', { class: 'muted small' },
        d.delivered_at ? `Delivered ${formatTime(d.delivered_at, undefined, true)}. ` : null,
        d.status === 'pending' && d.next_attempt_at ? `Next attempt ${relative(d.next_attempt_at)}. ` : null,
        'Idempotency key ', h('code', null, d.idempotency_key)),
      attempts(d.attempt_history || []))),
    alert.message ? h('details', { class: 'advanced' }, h('summary', null, 'The message sent'), h('pre', { class: 'json' }, JSON.stringify(alert.message, null, 2))) : null,
  ];
}

/** A link inside the dialog leads away: close the dialog as the page changes. */
function closeAround(event) {
  const dialog = event.currentTarget.closest('dialog');
  if (dialog) dialog.close('away');
}

function attempts(list) {
  if (!list.length) return h('p', { class: 'muted small' }, 'No attempt yet.');
  return h('div', { class: 'table-scroll' }, h('table', { class: 'table attempts-table' },
    h('thead', null, h('tr', null, ['#', 'Started', 'Took', 'Outcome', 'Status', 'What the receiver said'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, list.map((a) => h('tr', null,
      h('td', null, String(a.attempt)),
      h('td', { class: 'nowrap' }, formatTimeWithSeconds(a.started_at)),
      h('td', { class: 'nowrap' }, formatDuration(a.duration_ms)),
      h('td', null, deliveryBadge(a.outcome)),
      h('td', null, a.status_code === null || a.status_code === undefined ? '—' : String(a.status_code)),
      h('td', { class: 'break small' },
        a.error ? h('span', { class: 'attempt-error' }, a.error) : null,
        a.response ? h('code', { class: 'attempt-response', title: a.response }, a.response) : null))))));
}
