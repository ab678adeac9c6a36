// The edit-workflow dialog: name, description, run settings, and the steps, one card each
// (shell, http or noop) that can be added, removed and moved. It saves with one PUT, which the
// API applies whole or, on an error, not at all; the API's sentence shows next to the field it names.
import { ApiError, put } from './api.js';
import { fieldMessage, setMessage, toast } from './components.js';
import { h, openDialog, replace } from './dom.js';
import { icon } from './icons.js';

const OVERLAP = [
  { id: 'queue', label: 'Queue: a new run waits for a free slot' },
  { id: 'skip', label: 'Skip: a new run is recorded as skipped' },
  { id: 'allow', label: 'Allow: no limit' },
];
const KINDS = [{ id: 'shell', label: 'Shell' }, { id: 'http', label: 'HTTP' }, { id: 'noop', label: 'Wait (noop)' }];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
const SETTINGS = [
  { field: 'timeout_seconds', label: 'Run timeout (s)', min: 1, max: 604800 },
  { field: 'max_attempts', label: 'Attempts', min: 1, max: 100 },
  { field: 'retry_backoff_seconds', label: 'Between attempts (s)', min: 0, max: 86400 },
  { field: 'max_concurrent_runs', label: 'At most at once', min: 1, max: 1000 },
];

let nextKey = 0;

/** Opens the dialog for `workflow` (as GET /api/workflows/:id answers it); `saved` gets the new one. */
export function openEditWorkflow(workflow, saved) {
  const name = h('input', { id: 'ew-name', required: true, autocomplete: 'off', maxlength: 200, value: workflow.name, 'aria-describedby': 'ew-name-msg' });
  const description = h('textarea', { id: 'ew-description', rows: 2, 'aria-describedby': 'ew-description-msg' });
  description.value = workflow.description || '';
  const overlap = h('select', { id: 'ew-overlap_policy', 'aria-describedby': 'ew-overlap_policy-msg' }, OVERLAP.map((o) => h('option', { value: o.id }, o.label)));
  overlap.value = workflow.overlap_policy;
  const messages = {
    name: fieldMessage('ew-name-msg'),
    description: fieldMessage('ew-description-msg'),
    overlap_policy: fieldMessage('ew-overlap_policy-msg'),
    steps: fieldMessage('ew-steps-msg'),
    form: fieldMessage('ew-form-msg'),
  };
  const numbers = SETTINGS.map((setting) => {
    const input = h('input', { id: `ew-${setting.field}`, type: 'number', min: setting.min, max: setting.max, step: 1, inputmode: 'numeric', value: workflow[setting.field], 'aria-describedby': `ew-${setting.field}-msg` });
    messages[setting.field] = fieldMessage(`ew-${setting.field}-msg`);
    return { ...setting, input };
  });

  const stepsList = h('ol', { class: 'step-editors', 'aria-label': 'Steps' });
  let editors = workflow.steps.map((step) => stepEditor(step));
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Save changes');

  function layout(focus) {
    editors.forEach((editor, index) => editor.place(index, editors.length));
    replace(stepsList, editors.map((editor) => editor.element));
    if (focus) focus.focus();
  }
  function move(editor, by, button) {
    const from = editors.indexOf(editor);
    const to = from + by;
    if (to < 0 || to >= editors.length) return;
    editors.splice(from, 1);
    editors.splice(to, 0, editor);
    // Keep the keyboard on the same button, unless it is now disabled at the end of the list.
    layout((by < 0 ? to === 0 : to === editors.length - 1) ? editor.focusTarget() : button);
  }
  function remove(editor) {
    const index = editors.indexOf(editor);
    editors.splice(index, 1);
    layout(editors[Math.min(index, editors.length - 1)]?.focusTarget() || addShell);
    setMessage(messages.steps, editors.length ? '' : 'A workflow needs at least one step.');
  }
  function add(kind) {
    const editor = stepEditor({ kind, name: uniqueName(kind) });
    editors.push(editor);
    setMessage(messages.steps, '');
    layout(editor.focusTarget());
  }
  function uniqueName(kind) {
    const taken = new Set(editors.map((e) => e.name()));
    for (let n = editors.length + 1; ; n += 1) if (!taken.has(`${kind}-${n}`)) return `${kind}-${n}`;
  }

  /** One step's card; its fields follow its kind. */
  function stepEditor(step) {
    const key = nextKey++;
    const id = (field) => `ew-step${key}-${field}`;
    const nameInput = h('input', { id: id('name'), autocomplete: 'off', maxlength: 200, value: step.name, 'aria-describedby': id('msg') });
    const kind = h('select', { id: id('kind') }, KINDS.map((k) => h('option', { value: k.id }, k.label)));
    kind.value = step.kind;
    const message = fieldMessage(id('msg'));
    const fieldsSlot = h('div');
    const title = h('h3', { class: 'step-editor-title' });
    const up = h('button', { type: 'button', class: 'icon-button', onclick: () => move(editor, -1, up) }, icon('up'));
    const down = h('button', { type: 'button', class: 'icon-button', onclick: () => move(editor, 1, down) }, icon('down'));
    const del = h('button', { type: 'button', class: 'icon-button danger-text', onclick: () => remove(editor) }, icon('trash'));
    let fields = kindFields(step.kind, step, id);
    replace(fieldsSlot, fields.element);
    kind.addEventListener('change', () => {
      fields = kindFields(kind.value, { name: nameInput.value }, id);
      replace(fieldsSlot, fields.element);
      setMessage(message, '');
    });
    nameInput.addEventListener('input', () => { updateLabels(); setMessage(message, ''); });
    fieldsSlot.addEventListener('input', () => setMessage(message, ''));
    let position = 0;
    function updateLabels() {
      const label = nameInput.value.trim() || `step ${position + 1}`;
      replace(title, `${position + 1}. `, label);
      up.setAttribute('aria-label', `Move step ${label} up`);
      down.setAttribute('aria-label', `Move step ${label} down`);
      del.setAttribute('aria-label', `Remove step ${label}`);
      up.title = 'Move up'; down.title = 'Move down'; del.title = 'Remove step';
    }
    const element = h('li', { class: 'step-editor card', 'data-step-key': key },
      h('div', { class: 'step-editor-head' }, title, h('span', { class: 'grow' }), up, down, del),
      h('div', { class: 'row' },
        h('div', { class: 'field grow' }, h('label', { for: id('name') }, 'Step name'), nameInput),
        h('div', { class: 'field' }, h('label', { for: id('kind') }, 'Kind'), kind)),
      fieldsSlot, message);
    const editor = {
      element,
      name: () => nameInput.value.trim(),
      focusTarget: () => nameInput,
      place(index, count) {
        position = index;
        up.disabled = index === 0;
        down.disabled = index === count - 1;
        del.disabled = count === 1;
        updateLabels();
      },
      /** The step as the API takes it, or `{error}` naming what is wrong. */
      read() {
        const value = fields.read();
        if (value.error) return value;
        return { value: { name: nameInput.value.trim(), kind: kind.value, ...value.value } };
      },
      showError(text) { setMessage(message, text); },
    };
    return editor;
  }

  const addShell = h('button', { type: 'button', class: 'secondary', onclick: () => add('shell') }, icon('plus'), 'Shell step');
  const addHttp = h('button', { type: 'button', class: 'secondary', onclick: () => add('http') }, icon('plus'), 'HTTP step');

  /** Puts the API's sentence under what it names: a step, a setting, or the form. */
  function showError(text) {
    const step = /^steps\[(\d+)\]/.exec(text);
    if (step && editors[Number(step[1])]) { editors[Number(step[1])].showError(text); editors[Number(step[1])].focusTarget().scrollIntoView({ block: 'center' }); return; }
    if (/^steps\b/.test(text)) { setMessage(messages.steps, text); return; }
    if (/named ".*" already exists/.test(text)) { setMessage(messages.name, text); return; }
    const field = /^([a-z_]+)\b/.exec(text);
    if (field && messages[field[1]]) setMessage(messages[field[1]], text);
    else setMessage(messages.form, text);
  }
  function clearErrors() {
    for (const message of Object.values(messages)) setMessage(message, '');
    for (const editor of editors) editor.showError('');
  }

  /** The PUT body, or null after showing what is wrong. */
  function body() {
    const result = { name: name.value.trim(), description: description.value, overlap_policy: overlap.value };
    let ok = true;
    if (!result.name) { setMessage(messages.name, 'name is required'); ok = false; }
    for (const setting of numbers) {
      const text = setting.input.value.trim();
      if (!/^\d+$/.test(text)) { setMessage(messages[setting.field], `${setting.field} must be a whole number from ${setting.min} to ${setting.max}`); ok = false; continue; }
      result[setting.field] = Number(text);
    }
    if (!editors.length) { setMessage(messages.steps, 'A workflow needs at least one step.'); ok = false; }
    result.steps = [];
    editors.forEach((editor, index) => {
      const step = editor.read();
      if (step.error) { editor.showError(`steps[${index}].${step.error}`); ok = false; } else result.steps.push(step.value);
    });
    return ok ? result : null;
  }

  const dialog = h('dialog', { class: 'dialog wide', 'aria-labelledby': 'ew-title' },
    h('form', { method: 'dialog', novalidate: true },
      h('div', { class: 'dialog-head' }, h('h2', { id: 'ew-title' }, `Edit ${workflow.name}`),
        h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close', onclick: () => dialog.close('cancel') }, icon('x'))),
      h('div', { class: 'field' }, h('label', { for: 'ew-name' }, 'Name'), name, messages.name),
      h('div', { class: 'field' }, h('label', { for: 'ew-description' }, 'Description ', h('span', { class: 'muted' }, '(optional)')), description, messages.description),
      h('fieldset', { class: 'initial-trigger' }, h('legend', null, 'Runs'),
        h('div', { class: 'row settings-row' }, numbers.map((n) => h('div', { class: 'field grow' }, h('label', { for: n.input.id }, n.label), n.input, messages[n.field]))),
        h('div', { class: 'field' }, h('label', { for: 'ew-overlap_policy' }, 'When the limit is reached'), overlap, messages.overlap_policy)),
      h('h3', { class: 'steps-title' }, 'Steps'),
      h('p', { class: 'hint' }, 'They run in this order; a failing step ends the run.'),
      stepsList, messages.steps,
      h('div', { class: 'add-steps' }, h('span', { class: 'label-inline' }, 'Add '), addShell, addHttp),
      messages.form,
      h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close('cancel') }, 'Cancel'), submit)));

  dialog.querySelector('form').addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors();
    const change = body();
    if (!change) { (dialog.querySelector('.field-message.error')?.closest('.field, .step-editor')?.querySelector('input, select, textarea') || submit).focus(); return; }
    submit.disabled = true;
    try {
      const updated = await put(`/workflows/${workflow.id}`, change);
      dialog.close('saved');
      toast(`Saved ${updated.name}.`, 'success');
      saved(updated);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showError(error.message);
      submit.disabled = false;
    }
  });

  layout();
  openDialog(dialog);
  name.focus();
}

// ---------------------------------------------------------------- the fields of each kind

/** The fields of one kind of step, filled from `step`; `read()` answers `{value}` or `{error}`. */
function kindFields(kind, step, id) {
  if (kind === 'shell') return shellFields(step, id);
  if (kind === 'http') return httpFields(step, id);
  return noopFields(step, id);
}

function field(id, label, input, hint) {
  return h('div', { class: 'field grow' }, h('label', { for: id }, label), input, hint ? h('p', { class: 'hint' }, hint) : null);
}

function shellFields(step, id) {
  const command = h('input', { id: id('command'), class: 'mono', spellcheck: 'false', autocomplete: 'off', value: JSON.stringify(step.command || ['sh', '-c', 'echo hello']) });
  const env = h('textarea', { id: id('env'), class: 'mono', rows: 2, spellcheck: 'false', placeholder: '{"SOURCE": "s3"}' });
  env.value = step.env && Object.keys(step.env).length ? JSON.stringify(step.env, null, 1).replace(/\n\s*/g, ' ') : '';
  const directory = h('input', { id: id('working_directory'), class: 'mono', autocomplete: 'off', value: step.working_directory || '', placeholder: 'The worker’s default' });
  const timeout = h('input', { id: id('timeout_seconds'), type: 'number', min: 1, max: 604800, step: 1, inputmode: 'numeric', value: step.timeout_seconds ?? '', placeholder: '600' });
  return {
    element: h('div', null,
      field(command.id, 'Command', command, 'The program and its arguments as a JSON list, such as ["python3", "extract.py"]; no shell unless you write ["sh", "-c", "…"].'),
      field(env.id, 'Environment (JSON object, optional)', env),
      h('div', { class: 'row' }, field(directory.id, 'Working directory (optional)', directory), field(timeout.id, 'Timeout (s)', timeout))),
    read() {
      const value = {};
      const argv = parseJSON(command.value, 'command');
      if (argv.error) return argv;
      if (!Array.isArray(argv.value) || !argv.value.length || argv.value.some((a) => typeof a !== 'string')) {
        return { error: 'command must be a JSON list of strings, such as ["python3", "extract.py"]' };
      }
      value.command = argv.value;
      if (env.value.trim()) {
        const parsed = parseJSON(env.value, 'env');
        if (parsed.error) return parsed;
        if (!isObject(parsed.value)) return { error: 'env must be a JSON object of names and values, such as {"SOURCE": "s3"}' };
        value.env = parsed.value;
      }
      if (directory.value.trim()) value.working_directory = directory.value;
      const seconds = wholeNumber(timeout.value, 'timeout_seconds');
      if (seconds.error) return seconds;
      if (seconds.value !== null) value.timeout_seconds = seconds.value;
      return { value };
    },
  };
}

function httpFields(step, id) {
  const method = h('select', { id: id('method') }, METHODS.map((m) => h('option', { value: m }, m)));
  method.value = step.method || 'GET';
  const url = h('input', { id: id('url'), class: 'mono', type: 'url', autocomplete: 'off', spellcheck: 'false', value: step.url || '', placeholder: 'https://example.com/hook' });
  const headers = h('textarea', { id: id('headers'), class: 'mono', rows: 2, spellcheck: 'false', placeholder: '{"Content-Type": "application/json"}' });
  headers.value = step.headers && Object.keys(step.headers).length ? JSON.stringify(step.headers, null, 1).replace(/\n\s*/g, ' ') : '';
  const body = h('textarea', { id: id('body'), class: 'mono', rows: 2, spellcheck: 'false' });
  body.value = step.body ?? '';
  const expect = h('input', { id: id('expect_status'), autocomplete: 'off', value: (step.expect_status || []).join(', '), placeholder: 'Any 2xx' });
  const timeout = h('input', { id: id('timeout_seconds'), type: 'number', min: 1, max: 604800, step: 1, inputmode: 'numeric', value: step.timeout_seconds ?? '', placeholder: '30' });
  return {
    element: h('div', null,
      h('div', { class: 'row' },
        h('div', { class: 'field' }, h('label', { for: method.id }, 'Method'), method),
        field(url.id, 'URL', url)),
      field(headers.id, 'Headers (JSON object, optional)', headers),
      field(body.id, 'Body (optional)', body),
      h('div', { class: 'row' }, field(expect.id, 'Expected statuses', expect, 'Comma-separated, such as 200, 204; empty for any 2xx.'), field(timeout.id, 'Timeout (s)', timeout))),
    read() {
      const value = { method: method.value, url: url.value.trim() };
      if (headers.value.trim()) {
        const parsed = parseJSON(headers.value, 'headers');
        if (parsed.error) return parsed;
        if (!isObject(parsed.value)) return { error: 'headers must be a JSON object of names and values, such as {"Content-Type": "application/json"}' };
        value.headers = parsed.value;
      }
      if (body.value !== '') value.body = body.value;
      if (expect.value.trim()) {
        const codes = expect.value.split(/[\s,]+/).filter(Boolean);
        if (codes.some((c) => !/^\d{3}$/.test(c))) return { error: 'expect_status must be HTTP status codes separated by commas, such as 200, 204' };
        value.expect_status = codes.map(Number);
      }
      const seconds = wholeNumber(timeout.value, 'timeout_seconds');
      if (seconds.error) return seconds;
      if (seconds.value !== null) value.timeout_seconds = seconds.value;
      return { value };
    },
  };
}

function noopFields(step, id) {
  const sleep = h('input', { id: id('sleep_ms'), type: 'number', min: 0, max: 3600000, step: 1, inputmode: 'numeric', value: step.sleep_ms ?? 0 });
  return {
    element: h('div', { class: 'row' }, field(sleep.id, 'Wait (ms)', sleep)),
    read() {
      const ms = wholeNumber(sleep.value, 'sleep_ms');
      if (ms.error) return ms;
      return { value: ms.value === null ? {} : { sleep_ms: ms.value } };
    },
  };
}

function parseJSON(text, name) {
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    return { error: `${name} is not valid JSON: ${error.message}` };
  }
}

function isObject(value) { return value !== null && typeof value === 'object' && !Array.isArray(value); }

function wholeNumber(text, name) {
  const trimmed = String(text).trim();
  if (!trimmed) return { value: null };
  if (!/^\d+$/.test(trimmed)) return { error: `${name} must be a whole number` };
  return { value: Number(trimmed) };
}
