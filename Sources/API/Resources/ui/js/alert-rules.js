// Alert rules: the list (what each covers, its events as chips, its channels, throttle, the
// enable switch), the create/edit dialog, and delete with confirmation.
import { allWorkflows, ApiError, del, get, patch, post, put } from './api.js';
import { emptyState, errorState, fieldMessage, loading, poll, setMessage, toast } from './components.js';
import { confirmDialog, h, openDialog, replace } from './dom.js';
import { EVENT_TYPES, eventChips, throttleText } from './alert-format.js';
import { icon } from './icons.js';

export async function renderRules(container) {
  const body = h('div', { class: 'card table-card' }, loading('Loading rules…'));
  const add = h('button', { type: 'button', class: 'primary', onclick: () => openRuleDialog({ changed: refresh }) }, icon('plus'), 'New rule');
  replace(container,
    h('section', { 'aria-labelledby': 'rules-title' },
      h('div', { class: 'section-head' }, h('h2', { id: 'rules-title' }, 'Rules'), add),
      body));

  let shown = '';
  async function refresh() {
    let rules;
    let workflows;
    try {
      [rules, workflows] = await Promise.all([get('/alert-rules').then((a) => a.alert_rules), allWorkflows()]);
    } catch (error) {
      replace(body, errorState(error, refresh));
      shown = '';
      throw error;
    }
    const signature = JSON.stringify([rules, workflows.map((w) => [w.id, w.name])]);
    if (signature === shown) return;
    shown = signature;
    const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.focusKey : null;
    const names = new Map(workflows.map((w) => [w.id, w.name]));
    if (!rules.length) {
      replace(body, emptyState('No alert rules yet',
        'A rule says which workflows to watch, for which events (a failure, a recovery, a late or long run), and which channels to tell.',
        h('button', { type: 'button', class: 'primary', onclick: () => openRuleDialog({ changed: refresh }) }, icon('plus'), 'Create a rule')));
      return;
    }
    replace(body, h('div', { class: 'table-scroll' }, h('table', { class: 'table rules-table' },
      h('thead', null, h('tr', null, ['Name', 'Workflows', 'Events', 'Channels', 'Throttle', 'Enabled', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, rules.map((rule) => ruleRow(rule, names, refresh))))));
    if (focused) { const again = body.querySelector(`[data-focus-key="${focused}"]`); if (again) again.focus(); }
  }

  return poll(refresh, 10000);
}

/** The workflows a rule covers, as links, or "All workflows". */
export function coveredWorkflows(rule, names) {
  if (rule.all_workflows) return h('span', { class: 'badge all-workflows' }, 'All workflows');
  return h('span', { class: 'covered' }, rule.workflow_ids.map((id, index) => [index ? ', ' : null,
    h('a', { href: `#/workflows/${id}` }, names.get(id) || `#${id}`)]));
}

export function channelNames(rule) {
  return rule.channels.map((c, index) => [index ? ', ' : null, h('span', { class: 'channel-name', title: c.kind }, c.name)]);
}

function ruleRow(rule, names, changed) {
  return h('tr', { 'data-rule-id': rule.id, class: rule.enabled ? '' : 'disabled-row' },
    h('td', null, h('span', { class: 'strong' }, rule.name)),
    h('td', null, coveredWorkflows(rule, names)),
    h('td', null, eventChips(rule.events)),
    h('td', null, channelNames(rule)),
    h('td', { class: rule.throttle_minutes ? '' : 'muted' }, throttleText(rule.throttle_minutes)),
    h('td', null, ruleSwitch(rule, changed)),
    h('td', { class: 'row-actions' },
      h('button', {
        type: 'button', class: 'icon-button', 'aria-label': `Edit rule ${rule.name}`, title: 'Edit rule', 'data-focus-key': `edit-rule-${rule.id}`,
        onclick: async () => {
          try {
            openRuleDialog({ existing: await get(`/alert-rules/${rule.id}`), changed });
          } catch (error) {
            toast(error.message, 'error');
          }
        },
      }, icon('edit')),
      h('button', {
        type: 'button', class: 'icon-button danger-text', 'aria-label': `Delete rule ${rule.name}`, title: 'Delete rule',
        onclick: () => deleteRule(rule, changed),
      }, icon('trash'))));
}

/** The enable/disable switch of a rule, as on a trigger's card. */
export function ruleSwitch(rule, changed) {
  const toggle = h('button', {
    type: 'button', role: 'switch', class: 'switch', 'aria-checked': String(rule.enabled), 'data-focus-key': `toggle-rule-${rule.id}`,
    'aria-label': `${rule.enabled ? 'Disable' : 'Enable'} rule ${rule.name}`,
    onclick: async () => {
      toggle.disabled = true;
      try {
        await patch(`/alert-rules/${rule.id}/${rule.enabled ? 'disable' : 'enable'}`);
        toast(`Rule “${rule.name}” ${rule.enabled ? 'disabled: it raises no alerts until enabled' : 'enabled'}.`, 'success');
      } catch (error) {
        toast(error.message, 'error');
      }
      changed();
    },
  }, h('span', { class: 'switch-track', 'aria-hidden': 'true' }, h('span', { class: 'switch-thumb' })), h('span', { class: 'switch-text' }, rule.enabled ? 'Enabled' : 'Disabled'));
  return toggle;
}

async function deleteRule(rule, changed) {
  if (!(await confirmDialog(`Delete rule “${rule.name}”?`, 'It raises no more alerts. The alerts it raised stay in the history, and its channels stay.'))) return;
  try {
    await del(`/alert-rules/${rule.id}`);
    toast(`Rule “${rule.name}” deleted.`, 'success');
  } catch (error) {
    toast(error.message, 'error');
  }
  changed();
}

// ---------------------------------------------------------------- create or edit

const UNITS = [{ id: 1, label: 'seconds' }, { id: 60, label: 'minutes' }, { id: 3600, label: 'hours' }];

/**
 * The rule dialog; given `existing` it edits that rule (PUT). `workflowIds` preselects workflows
 * for a new rule (from a workflow's page). On an error the API's sentence shows under the field it
 * names, and nothing changed.
 */
export async function openRuleDialog({ existing = null, workflowIds = [], changed = () => {} }) {
  const messages = {
    name: fieldMessage('rule-name-msg'), workflows: fieldMessage('rule-workflows-msg'), events: fieldMessage('rule-events-msg'),
    channels: fieldMessage('rule-channels-msg'), throttle: fieldMessage('rule-throttle-msg'), form: fieldMessage('rule-form-msg'),
  };
  const name = h('input', { id: 'rule-name', autocomplete: 'off', maxlength: 200, value: existing ? existing.name : '', 'aria-describedby': 'rule-name-msg', placeholder: 'e.g. ETL failures' });

  // Which workflows: all, or the checked ones.
  const allChosen = existing ? existing.all_workflows : !workflowIds.length;
  const allRadio = h('input', { type: 'radio', name: 'rule-cover', id: 'rule-cover-all', value: 'all', checked: allChosen });
  const someRadio = h('input', { type: 'radio', name: 'rule-cover', id: 'rule-cover-some', value: 'some', checked: !allChosen });
  const checkedWorkflows = new Set(existing ? existing.workflow_ids : workflowIds);
  const workflowList = h('div', { class: 'upstream-list', id: 'rule-workflows' }, h('p', { class: 'muted small' }, 'Loading workflows…'));
  const cover = () => {
    workflowList.hidden = allRadio.checked;
    setMessage(messages.workflows, '');
  };
  allRadio.addEventListener('change', cover);
  someRadio.addEventListener('change', cover);

  // Events: a checkbox each, with its number where it has one.
  const events = EVENT_TYPES.map((type) => eventRow(type, existing ? existing.events.find((e) => e.type === type.type) : (type.type === 'failed' ? { type: 'failed' } : null), messages.events));

  // Channels.
  const checkedChannels = new Set(existing ? existing.channel_ids : []);
  const channelList = h('div', { class: 'upstream-list', id: 'rule-channels' }, h('p', { class: 'muted small' }, 'Loading channels…'));

  const throttle = h('input', { id: 'rule-throttle', class: 'narrow-input', type: 'number', min: 0, max: 10080, step: 1, inputmode: 'numeric', value: existing ? existing.throttle_minutes : 0, 'aria-describedby': 'rule-throttle-help rule-throttle-msg' });
  const enabled = h('input', { type: 'checkbox', id: 'rule-enabled', checked: existing ? existing.enabled : true });
  const submit = h('button', { type: 'submit', class: 'primary' }, existing ? 'Save changes' : 'Create rule');

  function showError(text) {
    if (/^name\b|already exists/.test(text)) setMessage(messages.name, text);
    else if (/^(workflow_ids|all_workflows|workflow)\b/.test(text)) setMessage(messages.workflows, text);
    else if (/^events?\b/.test(text)) setMessage(messages.events, text);
    else if (/^(channel_ids|channel)\b/.test(text)) setMessage(messages.channels, text);
    else if (/^throttle_minutes\b/.test(text)) setMessage(messages.throttle, text);
    else setMessage(messages.form, text);
  }

  /** The body, or null after showing what is wrong. */
  function body() {
    const result = { name: name.value.trim(), events: [], channel_ids: [...checkedChannels], enabled: enabled.checked };
    let ok = true;
    if (!result.name) { setMessage(messages.name, 'name is required'); ok = false; }
    if (allRadio.checked) result.all_workflows = true;
    else {
      result.workflow_ids = [...checkedWorkflows];
      if (!result.workflow_ids.length) { setMessage(messages.workflows, 'Choose the workflows this rule covers, or all workflows.'); ok = false; }
    }
    for (const row of events) {
      const event = row.read();
      if (event && event.error) { setMessage(messages.events, event.error); ok = false; } else if (event) result.events.push(event);
    }
    if (ok && !result.events.length) { setMessage(messages.events, 'Choose at least one event.'); ok = false; }
    if (!result.channel_ids.length) { setMessage(messages.channels, 'Choose at least one channel to send to.'); ok = false; }
    const minutes = String(throttle.value).trim();
    if (!/^\d+$/.test(minutes) || Number(minutes) > 10080) { setMessage(messages.throttle, 'throttle_minutes must be a whole number from 0 to 10080'); ok = false; }
    result.throttle_minutes = Number(minutes);
    return ok ? result : null;
  }

  const title = existing ? `Edit rule “${existing.name}”` : 'New alert rule';
  const dialog = h('dialog', { class: 'dialog wide', 'aria-labelledby': 'rule-title' },
    h('form', { method: 'dialog', novalidate: true },
      h('div', { class: 'dialog-head' }, h('h2', { id: 'rule-title' }, title),
        h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close', onclick: () => dialog.close('cancel') }, icon('x'))),
      h('div', { class: 'field' }, h('label', { for: 'rule-name' }, 'Name'), name, messages.name),
      h('fieldset', { class: 'rule-fieldset' }, h('legend', null, 'Workflows'),
        h('div', { class: 'radio-row' },
          h('label', { class: 'check', for: 'rule-cover-all' }, allRadio, 'All workflows, also ones created later'),
          h('label', { class: 'check', for: 'rule-cover-some' }, someRadio, 'Only these workflows:')),
        workflowList, messages.workflows),
      h('fieldset', { class: 'rule-fieldset' }, h('legend', null, 'Events'),
        h('p', { class: 'hint' }, 'An alert is raised for each event a run of a covered workflow meets.'),
        h('div', { class: 'event-rows' }, events.map((row) => row.element)), messages.events),
      h('fieldset', { class: 'rule-fieldset' }, h('legend', null, 'Channels'), channelList, messages.channels),
      h('div', { class: 'row' },
        h('div', { class: 'field grow' }, h('label', { for: 'rule-throttle' }, 'Throttle (minutes, 0–10080)'), throttle,
          h('p', { class: 'hint', id: 'rule-throttle-help' }, 'At most one message per workflow in this window; the alerts held back are counted into the next. 0: no throttle.'),
          messages.throttle),
        h('div', { class: 'field grow' }, h('span', { class: 'label' }, 'State'), h('label', { class: 'check', for: 'rule-enabled' }, enabled, 'Enabled'))),
      messages.form,
      h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close('cancel') }, 'Cancel'), submit)));

  dialog.querySelector('form').addEventListener('submit', async (event) => {
    event.preventDefault();
    for (const message of Object.values(messages)) setMessage(message, '');
    const change = body();
    if (!change) return;
    submit.disabled = true;
    try {
      const answer = existing ? await put(`/alert-rules/${existing.id}`, change) : await post('/alert-rules', change);
      dialog.close('saved');
      toast(existing ? `Rule “${answer.name}” saved.` : `Rule “${answer.name}” created.`, 'success');
      changed(answer);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showError(error.message);
      submit.disabled = false;
    }
  });

  cover();
  openDialog(dialog);
  name.focus();

  // The choices load while the dialog is open.
  allWorkflows().then((workflows) => {
    replace(workflowList, workflows.length ? workflows.map((w) => checkbox(`rule-wf-${w.id}`, w.name, checkedWorkflows, w.id))
      : h('p', { class: 'muted small' }, 'No workflows yet.'));
  }).catch((error) => replace(workflowList, h('p', { class: 'muted small' }, `Workflows unavailable: ${error.message}`)));
  get('/alert-channels').then((answer) => {
    const channels = answer.alert_channels;
    replace(channelList, channels.length
      ? channels.map((c) => checkbox(`rule-ch-${c.id}`, c.name, checkedChannels, c.id, c.kind))
      : h('p', { class: 'muted small' }, 'No channels yet: ', h('a', { href: '#/alerts/channels', onclick: () => dialog.close('cancel') }, 'add a webhook, Slack or email channel'), ' first.'));
  }).catch((error) => replace(channelList, h('p', { class: 'muted small' }, `Channels unavailable: ${error.message}`)));
}

function checkbox(id, label, set, value, note) {
  const input = h('input', { type: 'checkbox', id, checked: set.has(value), onchange: () => { if (input.checked) set.add(value); else set.delete(value); } });
  return h('label', { class: 'check', for: id }, input, label, note ? h('span', { class: 'muted small' }, ` ${note}`) : null);
}

/** One event's row: its checkbox, and the count or the time where it takes one. */
function eventRow(type, existing, message) {
  const id = `rule-event-${type.type}`;
  const check = h('input', { type: 'checkbox', id, checked: Boolean(existing), onchange: () => { sync(); setMessage(message, ''); } });
  let number = null;
  let unit = null;
  let parts = [];
  if (type.number === 'count') {
    number = h('input', { type: 'number', id: `${id}-count`, class: 'event-number', min: type.min, step: 1, inputmode: 'numeric', value: existing ? existing.count : type.initial, 'aria-label': 'Failures in a row: count' });
    parts = [number, h('span', null, 'failed runs')];
  } else if (type.number === 'seconds') {
    const value = existing ? existing.seconds : type.initial;
    const chosen = [...UNITS].reverse().find((u) => value % u.id === 0) || UNITS[0];
    number = h('input', { type: 'number', id: `${id}-amount`, class: 'event-number', min: 1, step: 1, inputmode: 'numeric', value: value / chosen.id, 'aria-label': `${type.label}: how long` });
    unit = h('select', { id: `${id}-unit`, class: 'event-unit', 'aria-label': `${type.label}: unit` }, UNITS.map((u) => h('option', { value: u.id }, u.label)));
    unit.value = String(chosen.id);
    parts = [h('span', null, type.type === 'late' ? 'by more than' : 'for more than'), number, unit];
  }
  function sync() {
    for (const control of [number, unit]) if (control) control.disabled = !check.checked;
  }
  sync();
  const element = h('div', { class: 'event-row', 'data-event': type.type },
    h('label', { class: 'check', for: id }, check, type.number === 'count' ? 'Failures in a row' : type.label),
    parts.length ? h('span', { class: 'event-amount' }, parts) : null,
    h('span', { class: 'muted small event-explain' }, type.explain));
  return {
    element,
    read() {
      if (!check.checked) return null;
      if (!type.number) return type.type;
      const text = String(number.value).trim();
      if (!/^\d+$/.test(text) || Number(text) < type.min) {
        return { error: type.number === 'count' ? 'The count of failures in a row must be a whole number of at least 1.' : `${type.label}: enter a whole number of ${unit.selectedOptions[0].textContent}.` };
      }
      if (type.number === 'count') return { type: type.type, count: Number(text) };
      return { type: type.type, seconds: Number(text) * Number(unit.value) };
    },
  };
}
