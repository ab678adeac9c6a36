// A workflow's Triggers section: one card per trigger, the enable/disable switch, delete with
// confirmation, each trigger's last 10 runs, and the add-trigger dialog.
import { ApiError, del, get, patch, post } from './api.js';
import { emptyState, fieldMessage, setMessage, toast } from './components.js';
import { confirmDialog, formatTime, h, openDialog, relative, replace } from './dom.js';
import { icon, TRIGGER_ICONS, TRIGGER_LABELS } from './icons.js';
import { CONDITIONS, triggerForm } from './trigger-form.js';
import { TRIGGER_CARDS } from './workflow-create.js';

/** The section's content for `workflow` (with its `triggers`); `changed` reloads the page. */
export function triggerCards(workflow, changed) {
  if (!workflow.triggers.length) {
    return emptyState('No triggers', 'This workflow runs only when someone presses “Run now”. Add a schedule, a dependency or an event.',
      h('button', { type: 'button', class: 'secondary', onclick: () => openAddTrigger(workflow, changed) }, icon('plus'), 'Add trigger'));
  }
  return h('div', { class: 'trigger-list' }, workflow.triggers.map((trigger) => triggerCard(workflow, trigger, changed)));
}

function triggerCard(workflow, trigger, changed) {
  const toggle = h('button', {
    type: 'button', role: 'switch', class: 'switch', 'aria-checked': String(trigger.enabled), 'data-focus-key': `toggle-${trigger.id}`,
    'aria-label': `${trigger.enabled ? 'Disable' : 'Enable'} trigger ${trigger.trigger_name}`,
    onclick: async () => {
      toggle.disabled = true;
      try {
        await patch(`/workflows/${workflow.id}/triggers/${trigger.id}/${trigger.enabled ? 'disable' : 'enable'}`);
        toast(`Trigger “${trigger.trigger_name}” ${trigger.enabled ? 'disabled' : 'enabled'}.`, 'success');
      } catch (error) {
        toast(error.message, 'error');
      }
      changed();
    },
  }, h('span', { class: 'switch-track', 'aria-hidden': 'true' }, h('span', { class: 'switch-thumb' })), h('span', { class: 'switch-text' }, trigger.enabled ? 'Enabled' : 'Disabled'));
  const remove = h('button', {
    type: 'button', class: 'icon-button danger-text', 'aria-label': `Delete trigger ${trigger.trigger_name}`, title: 'Delete trigger',
    onclick: async () => {
      if (!(await confirmDialog('Delete this trigger?', `“${trigger.trigger_name}” will stop starting ${workflow.name}. Runs it already started stay in the history.`))) return;
      try {
        await del(`/workflows/${workflow.id}/triggers/${trigger.id}`);
        toast(`Trigger “${trigger.trigger_name}” deleted.`, 'success');
      } catch (error) {
        toast(error.message, 'error');
      }
      changed();
    },
  }, icon('trash'));
  const history = h('div', { class: 'history' }, h('span', { class: 'muted small' }, 'Loading runs…'));
  loadHistory(workflow.id, trigger, history);
  return h('article', { class: `trigger-card ${trigger.enabled ? '' : 'disabled'}`, 'data-trigger-id': trigger.id, 'data-trigger-type': trigger.trigger_type },
    h('div', { class: 'trigger-head' },
      h('span', { class: `type-icon ${trigger.trigger_type}` }, icon(TRIGGER_ICONS[trigger.trigger_type])),
      h('div', { class: 'grow' }, h('h3', null, trigger.trigger_name), h('span', { class: 'muted small' }, TRIGGER_LABELS[trigger.trigger_type])),
      toggle, remove),
    h('div', { class: 'trigger-body' }, details(trigger)),
    history);
}

function details(trigger) {
  if (trigger.trigger_type === 'scheduled') {
    const next = trigger.enabled && trigger.next_run_at
      ? [h('time', { datetime: trigger.next_run_at, title: `${formatTime(trigger.next_run_at, trigger.timezone, true)} in ${trigger.timezone}` }, formatTime(trigger.next_run_at)),
        h('span', { class: 'muted' }, ` (${relative(trigger.next_run_at)}; ${formatTime(trigger.next_run_at, trigger.timezone)} ${trigger.timezone})`)]
      : [h('span', { class: 'muted' }, 'Paused while disabled')];
    return [
      h('p', null, h('code', null, trigger.cron_expression), ' · ', trigger.description, ' · ', h('span', { class: 'muted' }, trigger.timezone)),
      h('p', { class: 'next-run' }, h('span', { class: 'label-inline' }, 'Next run '), ...next),
    ];
  }
  if (trigger.trigger_type === 'dependency') {
    const condition = CONDITIONS.find((c) => c.id === trigger.dependency_condition);
    return [h('p', null, 'After ', h('a', { href: `#/workflows/${trigger.depends_on_workflow_id}` }, trigger.depends_on_workflow_name),
      ' ', h('span', { class: 'badge' }, condition ? condition.label.toLowerCase() : trigger.dependency_condition),
      trigger.delay_minutes ? ` · ${trigger.delay_minutes} min delay` : ' · no delay'),
    h('p', { class: 'muted small' }, condition ? condition.explain(`“${trigger.depends_on_workflow_name}”`) : '')];
  }
  if (trigger.event_type === 'webhook') {
    const url = webhookURL(trigger);
    return [h('p', null, 'Webhook: ', h('code', { class: 'break' }, `POST ${url}`)),
      h('p', { class: 'muted small' }, 'Signed with X-FlowForge-Signature: t=<unix seconds>,v1=<HMAC-SHA256 of "t.body">.')];
  }
  return [h('p', null, 'File arrival'), trigger.event_config ? h('pre', { class: 'mono small' }, JSON.stringify(trigger.event_config, null, 2)) : null];
}

async function loadHistory(workflowId, trigger, container) {
  try {
    const answer = await get(`/workflows/${workflowId}/triggers/${trigger.id}/history?limit=10`);
    if (!answer.executions.length) { replace(container, h('span', { class: 'muted small' }, 'No runs yet')); return; }
    replace(container, h('span', { class: 'label-inline' }, 'Last runs '),
      h('ol', { class: 'run-dots', 'aria-label': `Last ${answer.executions.length} runs of ${trigger.trigger_name}` }, answer.executions.map((run) => h('li', null,
        h('a', { href: `#/executions/${run.id}`, class: `dot status-${run.status}`, title: `#${run.id} ${run.status} · ${formatTime(run.queued_at)}`, 'aria-label': `Run ${run.id}: ${run.status}` })))),
      trigger.last_run_at ? h('span', { class: 'muted small' }, ` last ${relative(trigger.last_run_at)}`) : null);
  } catch (error) {
    replace(container, h('span', { class: 'muted small' }, `History unavailable: ${error.message}`));
  }
}

/** The API answers `webhook_url`, or `webhook_path` relative to its own address. */
function webhookURL(trigger) {
  return trigger.webhook_url || `${location.origin}${trigger.webhook_path || `/api/hooks/${trigger.id}`}`;
}

// ---------------------------------------------------------------- add trigger

export function openAddTrigger(workflow, changed) {
  let type = 'scheduled';
  let form = null;
  const name = h('input', { id: 'add-name', autocomplete: 'off', maxlength: 200, placeholder: 'Generated from the settings, e.g. “At 02:00”' });
  const slot = h('div', { class: 'trigger-slot' });
  const message = fieldMessage('add-msg');
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Add trigger');

  const cards = TRIGGER_CARDS.map((card) => h('button', {
    type: 'button', role: 'radio', class: 'type-card', 'aria-checked': String(card.type === type), 'data-trigger-card': card.type,
    onclick: () => choose(card.type),
  }, h('span', { class: `type-icon ${card.type}` }, icon(card.icon)), h('span', { class: 'type-title' }, card.title), h('span', { class: 'type-text' }, card.text)));

  function choose(next) {
    type = next;
    for (const card of cards) card.setAttribute('aria-checked', String(card.dataset.triggerCard === type));
    form = triggerForm(type, 'add', workflow.id, update);
    replace(slot, form.element);
    setMessage(message, '');
    update();
  }
  function update() { submit.disabled = !form || !form.valid; }

  const dialog = h('dialog', { class: 'dialog wide', 'aria-labelledby': 'add-title' },
    h('form', { method: 'dialog', novalidate: true },
      h('div', { class: 'dialog-head' }, h('h2', { id: 'add-title' }, `Add a trigger to ${workflow.name}`),
        h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close', onclick: () => dialog.close('cancel') }, icon('x'))),
      h('div', { class: 'type-cards', role: 'radiogroup', 'aria-label': 'Trigger type' }, cards),
      slot,
      h('div', { class: 'field' }, h('label', { for: 'add-name' }, 'Name ', h('span', { class: 'muted' }, '(optional)')), name),
      message,
      h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close('cancel') }, 'Cancel'), submit)));

  dialog.querySelector('form').addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!form.valid) return;
    const body = { ...form.value() };
    if (name.value.trim()) body.trigger_name = name.value.trim();
    submit.disabled = true;
    try {
      const created = await post(`/workflows/${workflow.id}/triggers`, body);
      dialog.close('created');
      toast(`Trigger “${created.trigger_name}” added.`, 'success');
      if (created.secret) showSecret(created);
      changed();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      setMessage(message, error.message);  // a 409 names the whole cycle: "circular dependency: a → b → a"
      submit.disabled = false;
    }
  });

  choose('scheduled');
  openDialog(dialog);
}

/** A webhook's secret is answered once; show it where it can be copied. */
export function showSecret(trigger) {
  const url = webhookURL(trigger);
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'secret-title' },
    h('form', { method: 'dialog' },
      h('h2', { id: 'secret-title' }, 'Webhook ready'),
      h('p', null, 'Send events to this address, signed with the secret. The secret is shown only now: copy it.'),
      h('label', { for: 'hook-url' }, 'URL'), h('input', { id: 'hook-url', readonly: true, class: 'mono', value: url }),
      h('label', { for: 'hook-secret' }, 'Secret'), h('input', { id: 'hook-secret', readonly: true, class: 'mono', value: trigger.secret }),
      h('div', { class: 'dialog-actions' }, h('button', { class: 'primary', value: 'ok' }, 'I copied it'))));
  openDialog(dialog);
}
