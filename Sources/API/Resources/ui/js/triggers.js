// A workflow's Triggers section: one card per trigger, the enable/disable switch, edit, delete
// with confirmation, a webhook's secret rotation, a schedule's backfill, each trigger's last 10
// runs, and the add-trigger dialog, which also edits a trigger.
import { ApiError, apiFeatures, del, get, patch, post, put } from './api.js';
import { openBackfill } from './backfill.js';
import { emptyState, fieldMessage, setMessage, toast } from './components.js';
import { confirmDialog, formatTime, h, openDialog, relative, replace } from './dom.js';
import { icon, TRIGGER_ICONS, TRIGGER_LABELS } from './icons.js';
import { paramsField } from './params.js';
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
  const edit = h('button', {
    type: 'button', class: 'icon-button', 'aria-label': `Edit trigger ${trigger.trigger_name}`, title: 'Edit trigger', 'data-focus-key': `edit-${trigger.id}`,
    onclick: () => openTriggerDialog(workflow, changed, trigger),
  }, icon('edit'));
  const history = h('div', { class: 'history' }, h('span', { class: 'muted small' }, 'Loading runs…'));
  loadHistory(workflow.id, trigger, history);
  return h('article', { class: `trigger-card ${trigger.enabled ? '' : 'disabled'}`, 'data-trigger-id': trigger.id, 'data-trigger-type': trigger.trigger_type },
    h('div', { class: 'trigger-head' },
      h('span', { class: `type-icon ${trigger.trigger_type}` }, icon(TRIGGER_ICONS[trigger.trigger_type])),
      h('div', { class: 'grow' }, h('h3', null, trigger.trigger_name), h('span', { class: 'muted small' }, TRIGGER_LABELS[trigger.trigger_type])),
      toggle, edit, remove),
    h('div', { class: 'trigger-body' }, details(trigger)),
    actions(workflow, trigger, changed),
    history);
}

/** What else a trigger offers: a schedule's backfill, a webhook's new secret. */
function actions(workflow, trigger, changed) {
  if (trigger.trigger_type === 'scheduled') {
    return h('div', { class: 'trigger-actions' }, h('button', {
      type: 'button', class: 'secondary small-button', 'data-focus-key': `backfill-${trigger.id}`,
      onclick: () => openBackfill(workflow, trigger, changed),
    }, icon('rewind'), 'Backfill…'));
  }
  if (trigger.event_type === 'webhook') {
    const rotate = h('button', {
      type: 'button', class: 'secondary small-button', 'data-focus-key': `rotate-${trigger.id}`,
      onclick: async () => {
        if (!(await confirmDialog(`Rotate the secret of “${trigger.trigger_name}”?`,
          'A new secret is made and shown once. The current one keeps working for 24 hours, so senders can switch without losing events.', 'Rotate secret'))) return;
        rotate.disabled = true;
        try {
          const rotated = await post(`/workflows/${workflow.id}/triggers/${trigger.id}/rotate-secret`, {});
          showSecret(rotated);
        } catch (error) {
          toast(error.message, 'error');
        }
        rotate.disabled = false;
        changed();
      },
    }, icon('rotate'), 'Rotate secret');
    return h('div', { class: 'trigger-actions' }, rotate);
  }
  return null;
}

function details(trigger) {
  if (trigger.trigger_type === 'scheduled') {
    const next = trigger.enabled && trigger.next_run_at
      ? [h('time', { datetime: trigger.next_run_at, title: `${formatTime(trigger.next_run_at, trigger.timezone, true)} in ${trigger.timezone}` }, formatTime(trigger.next_run_at)),
        h('span', { class: 'muted' }, ` (${relative(trigger.next_run_at)}; ${formatTime(trigger.next_run_at, trigger.timezone)} ${trigger.timezone})`)]
      : [h('span', { class: 'muted' }, 'Paused while disabled')];
    return [
      h('p', null, h('code', null, trigger.cron_expression), ' · ', trigger.description, ' · ', h('span', { class: 'muted' }, trigger.timezone)),
      scheduleOptionsLine(trigger),
      h('p', { class: 'next-run' }, h('span', { class: 'label-inline' }, 'Next run '), ...next),
      paramsLine(trigger),
    ];
  }
  if (trigger.trigger_type === 'dependency' && (trigger.depends_on_workflow_ids || []).length > 1) {
    const condition = CONDITIONS.find((c) => c.id === trigger.dependency_condition);
    const upstreams = trigger.depends_on_workflows || trigger.depends_on_workflow_ids.map((id) => ({ id, name: `workflow ${id}` }));
    return [h('p', { 'data-testid': 'join-upstreams' }, 'After each of ', upstreams.flatMap((w, i) => [i ? ', ' : '',
      h('a', { href: `#/workflows/${w.id}` }, w.name)]),
    ' ', h('span', { class: 'badge' }, condition ? condition.label.toLowerCase() : trigger.dependency_condition),
    trigger.delay_minutes ? ` · ${trigger.delay_minutes} min delay` : ' · no delay'), paramsLine(trigger)];
  }
  if (trigger.trigger_type === 'dependency') {
    const condition = CONDITIONS.find((c) => c.id === trigger.dependency_condition);
    return [h('p', null, 'After ', h('a', { href: `#/workflows/${trigger.depends_on_workflow_id}` }, trigger.depends_on_workflow_name),
      ' ', h('span', { class: 'badge' }, condition ? condition.label.toLowerCase() : trigger.dependency_condition),
      trigger.delay_minutes ? ` · ${trigger.delay_minutes} min delay` : ' · no delay'),
    h('p', { class: 'muted small' }, condition ? condition.explain(`“${trigger.depends_on_workflow_name}”`) : ''), paramsLine(trigger)];
  }
  if (trigger.event_type === 'webhook') {
    const url = webhookURL(trigger);
    return [h('p', null, 'Webhook: ', h('code', { class: 'break' }, `POST ${url}`)),
      h('p', { class: 'muted small' }, 'Signed with X-FlowForge-Signature: t=<unix seconds>,v1=<HMAC-SHA256 of "t.body">.'), paramsLine(trigger)];
  }
  return [h('p', null, 'File arrival'), trigger.event_config ? h('pre', { class: 'mono small' }, JSON.stringify(trigger.event_config, null, 2)) : null, paramsLine(trigger)];
}

/** Jitter, active window and DST policy, where set. */
function scheduleOptionsLine(trigger) {
  const parts = [];
  if (trigger.jitter_seconds) parts.push(`jitter up to ${trigger.jitter_seconds} s`);
  if (trigger.active_from) parts.push(`from ${formatTime(trigger.active_from, trigger.timezone)}`);
  if (trigger.active_until) parts.push(`until ${formatTime(trigger.active_until, trigger.timezone)}`);
  if (trigger.dst_policy && trigger.dst_policy.gap) parts.push(`DST gap: ${trigger.dst_policy.gap}`);
  if (trigger.dst_policy && trigger.dst_policy.overlap) parts.push(`DST overlap: ${trigger.dst_policy.overlap}`);
  return parts.length ? h('p', { class: 'muted small', 'data-testid': 'schedule-options' }, parts.join(' · ')) : null;
}

/** A trigger's default run parameters, where it has some. */
function paramsLine(trigger) {
  if (!trigger.params || !Object.keys(trigger.params).length) return null;
  return h('p', { class: 'small' }, h('span', { class: 'label-inline' }, 'Parameters '), h('code', { class: 'break', 'data-testid': 'trigger-params' }, JSON.stringify(trigger.params)));
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

// ---------------------------------------------------------------- add or edit a trigger

export function openAddTrigger(workflow, changed) { return openTriggerDialog(workflow, changed, null); }

/**
 * The add-trigger dialog; given `existing`, the same dialog edits that trigger (PUT, only its
 * own type: the other cards are shown but cannot be chosen), with the same live preview and
 * cycle check. On an error the API's sentence shows and nothing changed.
 */
export async function openTriggerDialog(workflow, changed, existing) {
  const features = await apiFeatures();
  const prefix = existing ? 'edit' : 'add';
  let type = existing ? existing.trigger_type : 'scheduled';
  let form = null;
  const name = h('input', { id: `${prefix}-name`, autocomplete: 'off', maxlength: 200, placeholder: 'Generated from the settings, e.g. “At 02:00”', value: existing ? existing.trigger_name : '' });
  const slot = h('div', { class: 'trigger-slot' });
  const message = fieldMessage(`${prefix}-msg`);
  const submit = h('button', { type: 'submit', class: 'primary' }, existing ? 'Save changes' : 'Add trigger');
  // Default run parameters, for every type, where the API has them.
  const params = features.has('params') ? paramsField(`${prefix}-params`, 'Default parameters (optional)', existing && existing.params, () => update()) : null;

  const cards = TRIGGER_CARDS.map((card) => h('button', {
    type: 'button', role: 'radio', class: 'type-card', 'aria-checked': String(card.type === type), 'data-trigger-card': card.type,
    disabled: Boolean(existing && card.type !== existing.trigger_type),
    onclick: () => choose(card.type),
  }, h('span', { class: `type-icon ${card.type}` }, icon(card.icon)), h('span', { class: 'type-title' }, card.title), h('span', { class: 'type-text' }, card.text)));

  function choose(next) {
    type = next;
    for (const card of cards) card.setAttribute('aria-checked', String(card.dataset.triggerCard === type));
    form = triggerForm(type, prefix, workflow.id, update, existing, features);
    replace(slot, form.element);
    setMessage(message, '');
    update();
  }
  function update() { submit.disabled = !form || !form.valid || Boolean(params && !params.valid); }

  const title = existing ? `Edit trigger “${existing.trigger_name}”` : `Add a trigger to ${workflow.name}`;
  const dialog = h('dialog', { class: 'dialog wide', 'aria-labelledby': `${prefix}-title` },
    h('form', { method: 'dialog', novalidate: true },
      h('div', { class: 'dialog-head' }, h('h2', { id: `${prefix}-title` }, title),
        h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close', onclick: () => dialog.close('cancel') }, icon('x'))),
      h('div', { class: 'type-cards', role: 'radiogroup', 'aria-label': 'Trigger type' }, cards),
      existing ? h('p', { class: 'hint' }, 'A trigger’s type cannot change: add a new trigger for another kind.') : null,
      slot,
      params ? h('details', { class: 'advanced', open: Boolean(existing && existing.params && Object.keys(existing.params).length) },
        h('summary', null, 'Default parameters'), params.element) : null,
      h('div', { class: 'field' }, h('label', { for: `${prefix}-name` }, 'Name ', h('span', { class: 'muted' }, existing ? '(empty: generated from the settings)' : '(optional)')), name),
      message,
      h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close('cancel') }, 'Cancel'), submit)));

  dialog.querySelector('form').addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!form.valid) return;
    const body = { ...form.value() };
    if (params) body.params = params.value() || {};
    const typed = name.value.trim();
    if (!existing) {
      if (typed) body.trigger_name = typed;
    } else if (!typed) {
      body.trigger_name = null;  // back to a generated name, which follows later edits
    } else if (typed !== existing.trigger_name) {
      body.trigger_name = typed;
    }  // an untouched name is not sent, so a generated one follows this edit
    submit.disabled = true;
    try {
      const answer = existing
        ? await put(`/workflows/${workflow.id}/triggers/${existing.id}`, body)
        : await post(`/workflows/${workflow.id}/triggers`, body);
      dialog.close('saved');
      toast(existing ? `Trigger “${answer.trigger_name}” saved.` : `Trigger “${answer.trigger_name}” added.`, 'success');
      if (answer.secret) showSecret(answer);
      changed();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      setMessage(message, error.message);  // a 409 names the whole cycle: "circular dependency: a → b → a"
      submit.disabled = false;
    }
  });

  choose(type);
  openDialog(dialog);
}

/**
 * A webhook's secret is answered once, when the trigger is created or its secret rotated: show
 * it where it can be copied. After a rotation, say until when the previous secret still works.
 */
export function showSecret(trigger) {
  const url = webhookURL(trigger);
  const rotated = Boolean(trigger.previous_secrets_expire_at);
  const status = h('p', { class: 'field-message hint', role: 'status', 'aria-live': 'polite' });
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'secret-title' },
    h('form', { method: 'dialog' },
      h('h2', { id: 'secret-title' }, rotated ? 'New webhook secret' : 'Webhook ready'),
      h('p', null, rotated
        ? ['Sign events with this secret from now on. It is shown only now: copy it. The previous secret keeps working until ',
          h('time', { datetime: trigger.previous_secrets_expire_at }, formatTime(trigger.previous_secrets_expire_at, undefined, true)), '.']
        : 'Send events to this address, signed with the secret. The secret is shown only now: copy it.'),
      copyField('hook-url', 'URL', url, status),
      copyField('hook-secret', 'Secret', trigger.secret, status),
      status,
      h('div', { class: 'dialog-actions' }, h('button', { class: 'primary', value: 'ok' }, 'I copied it'))));
  openDialog(dialog);
}

/** A read-only field with a Copy button beside it (also for an alert channel's secret). */
export function copyField(id, label, value, status) {
  const input = h('input', { id, readonly: true, class: 'mono', value });
  const button = h('button', {
    type: 'button', class: 'secondary', 'aria-label': `Copy ${label.toLowerCase()}`, onclick: async () => {
      try {
        await copyText(value, input);
        setMessage(status, `${label} copied.`, 'hint');
      } catch {
        input.select();
        setMessage(status, `Copying was refused here: the ${label.toLowerCase()} is selected, press Ctrl+C (⌘C).`);
      }
    },
  }, icon('copy'), 'Copy');
  return h('div', { class: 'field' }, h('label', { for: id }, label), h('div', { class: 'copy-row' }, input, button));
}

async function copyText(text, input) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // Over plain HTTP to another host there is no clipboard API: the older command still works.
  input.select();
  if (!document.execCommand('copy')) throw new Error('copy refused');
}
