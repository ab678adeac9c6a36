// Run parameters: a JSON object checked as the API checks it (names, size), in a trigger's
// defaults, "Run with params…" and "Rerun…".
import { ApiError, post } from './api.js';
import { fieldMessage, setMessage, toast } from './components.js';
import { h, openDialog } from './dom.js';
import { icon } from './icons.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const MAX_BYTES = 65536;

/** `{value}` (null for empty text) or `{error}` naming `field` as the API would. */
export function parseParams(text, field = 'params') {
  if (!text.trim()) return { value: null };
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { error: `${field} is not valid JSON: ${error.message}` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { error: `${field} must be a JSON object, such as {"date": "2024-01-01"}` };
  const seen = new Map();
  for (const name of Object.keys(value)) {
    if (!NAME.test(name)) return { error: `${field}.${name}: a name holds letters, digits and underscores, does not start with a digit, and is at most 64 characters long` };
    const folded = name.toLowerCase();
    if (seen.has(folded)) return { error: `${field}: "${seen.get(folded)}" and "${name}" differ only in case` };
    seen.set(folded, name);
  }
  if (new TextEncoder().encode(JSON.stringify(value)).length > MAX_BYTES) return { error: `${field} must be at most ${MAX_BYTES} bytes of JSON` };
  return { value };
}

/** A labelled textarea for parameters; `onChange` hears when its validity may have changed. */
export function paramsField(id, label, initial, onChange = () => {}) {
  const input = h('textarea', { id, class: 'mono', rows: 3, spellcheck: 'false', placeholder: '{"date": "2024-01-01", "region": "eu"}', 'aria-describedby': `${id}-msg ${id}-help` });
  if (initial && Object.keys(initial).length) input.value = JSON.stringify(initial, null, 2);
  const message = fieldMessage(`${id}-msg`);
  let parsed = parseParams(input.value);
  input.addEventListener('input', () => {
    parsed = parseParams(input.value);
    setMessage(message, parsed.error || '');
    onChange();
  });
  return {
    element: h('div', { class: 'field' }, h('label', { for: id }, label), input,
      h('p', { class: 'hint', id: `${id}-help` }, 'A JSON object. Steps read it from the file named by FLOWFORGE_PARAMS_FILE, and each top-level string or number as FLOWFORGE_PARAM_<NAME>.'),
      message),
    input,
    get valid() { return !parsed.error; },
    value: () => parsed.value,
    showError: (text) => setMessage(message, text),
  };
}

/**
 * A dialog that starts a run with parameters: "Run with params…" of a workflow (`path`
 * …/workflows/:id/run) or "Rerun…" of a run (…/executions/:id/rerun, prefilled with its params).
 * Resolves with the new execution, or null when cancelled.
 */
export function openRunWithParams({ title, text, path, initial, submitLabel }) {
  const field = paramsField('run-params', 'Parameters', initial, () => { submit.disabled = !field.valid; });
  const submit = h('button', { type: 'submit', class: 'primary' }, icon('play'), submitLabel);
  let created = null;
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'run-params-title' },
    h('form', { method: 'dialog', novalidate: true },
      h('div', { class: 'dialog-head' }, h('h2', { id: 'run-params-title' }, title),
        h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close', onclick: () => dialog.close('cancel') }, icon('x'))),
      text ? h('p', { class: 'hint' }, text) : null,
      field.element,
      h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close('cancel') }, 'Cancel'), submit)));
  dialog.querySelector('form').addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!field.valid) return;
    submit.disabled = true;
    try {
      created = await post(path, { params: field.value() || {} });
      dialog.close('started');
    } catch (error) {
      if (!(error instanceof ApiError)) { toast(error.message, 'error'); submit.disabled = false; return; }
      field.showError(error.message);
      submit.disabled = false;
    }
  });
  const closed = openDialog(dialog).then(() => created);
  field.input.focus();
  return closed;
}
