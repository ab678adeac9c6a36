// The create-workflow dialog: name, description, steps as JSON, and the seed's
// "Initial Trigger (Optional)" toggle cards (click to select, click again to deselect).
import { ApiError, post } from './api.js';
import { fieldMessage, setMessage, toast } from './components.js';
import { h, openDialog, replace } from './dom.js';
import { icon } from './icons.js';
import { triggerForm } from './trigger-form.js';
import { showSecret } from './triggers.js';

export const TRIGGER_CARDS = [
  { type: 'scheduled', icon: 'clock', title: 'Scheduled', text: 'On a cron schedule, in any time zone.' },
  { type: 'dependency', icon: 'branch', title: 'Dependency', text: 'After another workflow finishes.' },
  { type: 'event', icon: 'zap', title: 'Event', text: 'On a signed webhook or a file arrival.' },
];

const STEPS_TEMPLATE = `[
  {"name": "hello", "kind": "shell", "command": ["sh", "-c", "echo hello from FlowForge"]}
]`;

const STEPS_HELP = 'A JSON list. Kinds: shell {"command": [argv…], "env", "working_directory", "timeout_seconds"}, '
  + 'http {"method", "url", "headers", "body", "expect_status"}, noop {"sleep_ms"}.';

export function openCreateWorkflow() {
  const name = h('input', { id: 'wf-name', required: true, autocomplete: 'off', maxlength: 200, 'aria-describedby': 'wf-name-msg', placeholder: 'customer-ingestion' });
  const nameMessage = fieldMessage('wf-name-msg');
  const description = h('textarea', { id: 'wf-description', rows: 2, 'aria-describedby': 'wf-description-msg' });
  const descriptionMessage = fieldMessage('wf-description-msg');
  const steps = h('textarea', { id: 'wf-steps', class: 'mono code', rows: 7, spellcheck: 'false', 'aria-describedby': 'wf-steps-help wf-steps-msg' });
  steps.value = STEPS_TEMPLATE;
  const stepsMessage = fieldMessage('wf-steps-msg');
  const triggerMessage = fieldMessage('wf-trigger-msg');
  const formMessage = fieldMessage('wf-form-msg');
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create workflow');
  const triggerSlot = h('div', { class: 'trigger-slot' });

  let chosen = null;   // the selected card's type, or null: manual runs only
  let form = null;     // that type's configuration form

  const cards = TRIGGER_CARDS.map((card) => h('button', {
    type: 'button', class: 'type-card', 'aria-pressed': 'false', 'data-trigger-card': card.type,
    onclick: () => choose(chosen === card.type ? null : card.type),
  }, h('span', { class: `type-icon ${card.type}` }, icon(card.icon)), h('span', { class: 'type-title' }, card.title), h('span', { class: 'type-text' }, card.text)));

  function choose(type) {
    chosen = type;
    for (const card of cards) card.setAttribute('aria-pressed', String(card.dataset.triggerCard === type));
    setMessage(triggerMessage, '');
    // A form reports changes as it builds itself and later from its own requests; only the
    // form on show may change the button.
    let current = null;
    current = type ? triggerForm(type, 'init', null, () => { if (form && form === current) update(); }) : null;
    form = current;
    replace(triggerSlot, form ? form.element : h('p', { class: 'hint' }, 'No trigger: the workflow runs when you press “Run now”. You can add triggers later on its page.'));
    update();
  }

  function stepsValue() {
    try {
      const value = JSON.parse(steps.value);
      if (!Array.isArray(value)) return { error: 'steps must be a JSON list ([ … ]) of steps' };
      if (!value.length) return { error: 'steps must contain at least one step' };
      return { value };
    } catch (error) {
      return { error: `steps is not valid JSON: ${error.message}` };
    }
  }

  /** Enables "Create workflow" when the steps parse and the chosen trigger's form is acceptable. */
  function update() {
    submit.disabled = Boolean(stepsValue().error) || Boolean(form && !form.valid);
  }
  // Only typing in the steps replaces their message: a late answer for another field must not
  // wipe out what the API said about them.
  steps.addEventListener('input', () => {
    setMessage(stepsMessage, stepsValue().error || '');
    update();
  });
  name.addEventListener('input', () => setMessage(nameMessage, ''));

  /** Puts the API's sentence under the field it names. */
  function showError(error) {
    const text = error.message;
    if (/^triggers\[0\]|^circular dependency|depends_on_workflow_id/.test(text)) setMessage(triggerMessage, text.replace(/^triggers\[0\]\./, ''));
    else if (/^name\b|named ".*" already exists/.test(text)) setMessage(nameMessage, text);
    else if (/^steps/.test(text)) setMessage(stepsMessage, text);
    else if (/^description/.test(text)) setMessage(descriptionMessage, text);
    else setMessage(formMessage, text);
  }

  const dialog = h('dialog', { class: 'dialog wide', 'aria-labelledby': 'create-title' },
    h('form', { method: 'dialog', novalidate: true },
      h('div', { class: 'dialog-head' }, h('h2', { id: 'create-title' }, 'New workflow'),
        h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close', onclick: () => dialog.close('cancel') }, icon('x'))),
      h('div', { class: 'field' }, h('label', { for: 'wf-name' }, 'Name'), name, nameMessage),
      h('div', { class: 'field' }, h('label', { for: 'wf-description' }, 'Description ', h('span', { class: 'muted' }, '(optional)')), description, descriptionMessage),
      h('div', { class: 'field' }, h('label', { for: 'wf-steps' }, 'Steps'), steps, h('p', { class: 'hint', id: 'wf-steps-help' }, STEPS_HELP), stepsMessage),
      h('fieldset', { class: 'initial-trigger' },
        h('legend', null, 'Initial Trigger (Optional)'),
        h('p', { class: 'hint' }, 'Pick one to set it up now, click it again to clear it. Manual runs are always available, and more triggers can be added later.'),
        h('div', { class: 'type-cards' }, cards),
        triggerSlot, triggerMessage),
      formMessage,
      h('div', { class: 'dialog-actions' },
        h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close('cancel') }, 'Cancel'), submit)));

  dialog.querySelector('form').addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!name.value.trim()) { setMessage(nameMessage, 'name is required'); name.focus(); return; }
    const parsed = stepsValue();
    if (parsed.error) { setMessage(stepsMessage, parsed.error); steps.focus(); return; }
    const body = { name: name.value.trim(), description: description.value, steps: parsed.value };
    if (form) body.triggers = [form.value()];
    submit.disabled = true;
    setMessage(formMessage, '');
    try {
      const created = await post('/workflows', body);
      dialog.close('created');
      const trigger = created.triggers && created.triggers[0];
      toast(trigger ? `Created “${created.name}” with the trigger “${trigger.trigger_name}”.` : `Created “${created.name}”.`, 'success');
      location.hash = `#/workflows/${created.id}`;
      // A webhook trigger's secret is in this answer only.
      if (trigger && trigger.secret) showSecret(trigger);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showError(error);
      submit.disabled = false;
    }
  });

  choose(null);
  openDialog(dialog);
  name.focus();
}
