// The configuration forms of a trigger — schedule, dependency, event — shared by the add-trigger
// dialog and the create-workflow dialog's "Initial Trigger (Optional)". Each form checks its input
// against the API as the user types and reports whether it is acceptable through `onChange`.
import { ApiError, get, query } from './api.js';
import { fieldMessage, setMessage } from './components.js';
import { debounce, formatTime, h, isoSeconds, replace, viewerZone, wallTime, zonedToUTC } from './dom.js';

export const CRON_PRESETS = [
  { id: 'every15', label: 'Every 15 minutes', cron: '*/15 * * * *' },
  { id: 'hourly', label: 'Hourly', cron: '0 * * * *' },
  { id: 'daily', label: 'Daily at 02:00', cron: '0 2 * * *' },
  { id: 'mondays', label: 'Mondays at 09:00', cron: '0 9 * * 1' },
  { id: 'weekdays', label: 'Weekdays at 09:00', cron: '0 9 * * 1-5' },
  { id: 'custom', label: 'Custom', cron: null },
];

export const CONDITIONS = [
  { id: 'on_success', label: 'On success', explain: (up) => `Runs each time ${up} completes successfully.` },
  { id: 'on_failure', label: 'On failure', explain: (up) => `Runs when ${up} fails after its last attempt — for alerts and clean-up.` },
  { id: 'on_completion', label: 'On completion', explain: (up) => `Runs each time ${up} finishes, whether it succeeded or failed.` },
];

const ALL_ZONES = (() => {
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return ['UTC', ...zones.filter((zone) => zone !== 'UTC')];
})();

let zoneListId = null;
/** One shared <datalist> of every IANA zone the browser knows, searched as the user types. */
function zoneList() {
  if (!zoneListId || !document.getElementById(zoneListId)) {
    zoneListId = 'iana-zones';
    document.body.append(h('datalist', { id: zoneListId }, ALL_ZONES.map((zone) => h('option', { value: zone }))));
  }
  return zoneListId;
}

/** A group of pressable cards or chips where exactly one is chosen (a radio group). */
export function choiceGroup(label, options, selected, onSelect, className = 'chips') {
  const group = h('div', { class: className, role: 'radiogroup', 'aria-label': label });
  const buttons = options.map((option) => h('button', {
    type: 'button', role: 'radio', class: 'chip', 'data-choice': option.id, 'aria-checked': String(option.id === selected),
    onclick: () => select(option.id, true),
  }, option.content || option.label));
  function select(id, notify) {
    for (const button of buttons) button.setAttribute('aria-checked', String(button.dataset.choice === id));
    if (notify) onSelect(id);
  }
  group.addEventListener('keydown', (event) => {  // arrow keys move between choices, as in a radio group
    const index = buttons.indexOf(document.activeElement);
    if (index < 0 || !['ArrowRight', 'ArrowDown', 'ArrowLeft', 'ArrowUp'].includes(event.key)) return;
    event.preventDefault();
    const next = buttons[(index + (event.key === 'ArrowRight' || event.key === 'ArrowDown' ? 1 : buttons.length - 1)) % buttons.length];
    next.focus();
    next.click();
  });
  group.append(...buttons);
  group.select = (id) => select(id, false);
  return group;
}

// ---------------------------------------------------------------- schedule

/**
 * Cron presets, a time-zone search and the live preview of the next 5 runs; `initial` is the
 * trigger being edited. Where the API has them (`features`), the schedule options too: jitter,
 * an active window and a daylight-saving policy, which the preview applies.
 */
export function scheduledForm(prefix, onChange, initial = null, features = null) {
  const state = initial
    ? { cron: initial.cron_expression, timezone: initial.timezone, valid: false, misfire: initial.misfire_policy || 'run_once' }
    : { cron: '0 2 * * *', timezone: viewerZone, valid: false, misfire: 'run_once' };
  const cronInput = h('input', { id: `${prefix}-cron`, class: 'mono', value: state.cron, spellcheck: 'false', autocomplete: 'off', 'aria-describedby': `${prefix}-cron-msg` });
  const zoneInput = h('input', { id: `${prefix}-tz`, value: state.timezone, list: zoneList(), autocomplete: 'off', spellcheck: 'false', 'aria-describedby': `${prefix}-cron-msg` });
  const misfire = h('select', { id: `${prefix}-misfire` },
    h('option', { value: 'run_once' }, 'Run once for the latest missed time'),
    h('option', { value: 'skip' }, 'Skip missed times'),
    h('option', { value: 'run_all' }, 'Run every missed time (at most 100)'));
  misfire.value = state.misfire;
  const message = fieldMessage(`${prefix}-cron-msg`);
  const preview = h('div', { class: 'preview', 'aria-live': 'polite', 'data-testid': 'schedule-preview' });
  const presets = choiceGroup('Schedule preset', CRON_PRESETS, (CRON_PRESETS.find((p) => p.cron === state.cron) || { id: 'custom' }).id, (id) => {
    const preset = CRON_PRESETS.find((p) => p.id === id);
    if (preset.cron) cronInput.value = preset.cron;
    else cronInput.focus();
    changed();
  });

  const options = scheduleOptions(prefix, initial, features, () => state.timezone, () => changed());

  let sequence = 0;
  const check = debounce(async () => {
    const mine = ++sequence;
    try {
      const answer = await get(`/schedule/preview${query({ cron: state.cron, timezone: state.timezone, count: 5, ...options.previewQuery(initial) })}`);
      if (mine !== sequence) return;
      state.valid = true;
      setMessage(message, '');
      showPreview(preview, answer);
    } catch (error) {
      if (mine !== sequence) return;
      state.valid = false;
      setMessage(message, error instanceof ApiError ? error.message : String(error));
      replace(preview);
    }
    onChange();
  }, 250);

  function changed() {
    state.cron = cronInput.value.trim();
    state.timezone = zoneInput.value.trim();
    const preset = CRON_PRESETS.find((p) => p.cron === state.cron);
    presets.select(preset ? preset.id : 'custom');
    state.valid = false;
    onChange();
    if (!state.cron) { setMessage(message, 'Enter a cron expression, such as 0 2 * * *.'); replace(preview); return; }
    if (!state.timezone) { setMessage(message, 'Choose a time zone, such as Europe/Berlin or UTC.'); replace(preview); return; }
    if (!options.read()) { replace(preview); return; }
    check();
  }
  cronInput.addEventListener('input', changed);
  zoneInput.addEventListener('input', changed);
  misfire.addEventListener('change', () => { state.misfire = misfire.value; });

  const element = h('div', { class: 'trigger-form' },
    h('span', { class: 'label' }, 'Schedule'), presets,
    h('div', { class: 'row' },
      h('div', { class: 'field grow' }, h('label', { for: cronInput.id }, 'Cron expression'), cronInput),
      h('div', { class: 'field grow' }, h('label', { for: zoneInput.id }, 'Time zone'), zoneInput)),
    message,
    preview,
    options.element,
    h('details', { class: 'advanced' }, h('summary', null, 'If the scheduler was down'),
      h('div', { class: 'field' }, h('label', { for: misfire.id }, 'Missed runs'), misfire)));
  changed();
  return {
    element,
    get valid() { return state.valid && Boolean(options.read()); },
    value: () => ({ trigger_type: 'scheduled', cron_expression: state.cron, timezone: state.timezone, misfire_policy: state.misfire, ...options.read() }),
  };
}

const DST_GAP = [
  { id: '', label: 'Default: moved past the gap if the hour is fixed, else skipped' },
  { id: 'shift', label: 'Shift: run at the first instant after the gap' },
  { id: 'skip', label: 'Skip: no run that day' },
];
const DST_OVERLAP = [
  { id: '', label: 'Default: once if the hour is fixed, else in both passes' },
  { id: 'first', label: 'First: run once, at the first pass' },
  { id: 'both', label: 'Both: run in each pass' },
];

/**
 * The schedule options the API documents (`features`): jitter, an active window (wall times in
 * the trigger's zone, shown in UTC too) and a DST policy. `read()` answers the body's fields
 * (an empty object without the features) or null after showing what is wrong.
 */
function scheduleOptions(prefix, initial, features, zone, onInput) {
  const has = (name) => Boolean(features && features.has(name));
  const parts = [];
  const message = fieldMessage(`${prefix}-options-msg`);
  let jitter = null;
  let from = null;
  let until = null;
  let gap = null;
  let overlap = null;
  const startZone = initial && initial.timezone ? initial.timezone : zone();
  const wall = (instant) => {
    if (!instant) return '';
    try { return wallTime(new Date(instant), startZone); } catch { return ''; }
  };
  if (has('jitter_seconds')) {
    jitter = h('input', { id: `${prefix}-jitter`, type: 'number', min: 0, max: 3600, step: 1, inputmode: 'numeric', value: initial ? initial.jitter_seconds ?? 0 : 0, 'aria-describedby': `${prefix}-jitter-help` });
    parts.push(h('div', { class: 'field narrow' }, h('label', { for: jitter.id }, 'Jitter (seconds, 0–3600)'), jitter,
      h('p', { class: 'hint', id: `${prefix}-jitter-help` }, 'Each run moves later by a fixed amount up to this, so many schedules on the same minute spread out.')));
  }
  const fromEcho = h('p', { class: 'hint mono', id: `${prefix}-active-from-utc` });
  const untilEcho = h('p', { class: 'hint mono', id: `${prefix}-active-until-utc` });
  if (has('active_from')) {
    from = h('input', { id: `${prefix}-active-from`, type: 'datetime-local', step: 60, value: wall(initial && initial.active_from), 'aria-describedby': fromEcho.id });
    until = h('input', { id: `${prefix}-active-until`, type: 'datetime-local', step: 60, value: wall(initial && initial.active_until), 'aria-describedby': untilEcho.id });
    parts.push(h('div', { class: 'row' },
      h('div', { class: 'field grow' }, h('label', { for: from.id }, 'Active from (optional)'), from, fromEcho),
      h('div', { class: 'field grow' }, h('label', { for: until.id }, 'Active until (optional)'), until, untilEcho)));
  }
  if (has('dst_policy')) {
    gap = h('select', { id: `${prefix}-dst-gap` }, DST_GAP.map((o) => h('option', { value: o.id }, o.label)));
    overlap = h('select', { id: `${prefix}-dst-overlap` }, DST_OVERLAP.map((o) => h('option', { value: o.id }, o.label)));
    gap.value = (initial && initial.dst_policy && initial.dst_policy.gap) || '';
    overlap.value = (initial && initial.dst_policy && initial.dst_policy.overlap) || '';
    parts.push(h('div', { class: 'row' },
      h('div', { class: 'field grow' }, h('label', { for: gap.id }, 'Clocks go forward (a time that does not exist)'), gap),
      h('div', { class: 'field grow' }, h('label', { for: overlap.id }, 'Clocks go back (a time that happens twice)'), overlap)));
  }
  for (const control of [jitter, from, until, gap, overlap]) if (control) control.addEventListener(control.tagName === 'SELECT' ? 'change' : 'input', onInput);

  const instant = (input, echo) => {
    if (!input || !input.value) { if (echo) replace(echo, ''); return { value: null }; }
    let date = null;
    try { date = zonedToUTC(input.value, zone()); } catch { date = null; }
    if (!date) { replace(echo, ''); return { error: 'Choose a complete date and time, or clear it.' }; }
    replace(echo, `= ${isoSeconds(date)}`);
    return { value: isoSeconds(date) };
  };
  function read() {
    const body = {};
    let error = null;
    if (jitter) {
      const text = String(jitter.value).trim();
      if (!/^\d+$/.test(text) || Number(text) > 3600) error = 'jitter_seconds must be a whole number from 0 to 3600';
      else body.jitter_seconds = Number(text);
    }
    if (from) {
      const a = instant(from, fromEcho);
      const b = instant(until, untilEcho);
      error = error || a.error || b.error || (a.value && b.value && b.value <= a.value ? 'active_until must be later than active_from' : null);
      body.active_from = a.value;
      body.active_until = b.value;
    }
    if (gap) body.dst_policy = gap.value || overlap.value ? { gap: gap.value || null, overlap: overlap.value || null } : null;
    setMessage(message, error || '');
    return error ? null : body;
  }
  /** The preview's query for these options; the jitter moves times only for a saved trigger. */
  function previewQuery(trigger) {
    const body = read() || {};
    const q = {};
    if (body.jitter_seconds && trigger) { q.jitter_seconds = body.jitter_seconds; q.trigger_id = trigger.id; }
    if (body.active_from) q.active_from = body.active_from;
    if (body.active_until) q.active_until = body.active_until;
    if (body.dst_policy) { q.dst_gap = body.dst_policy.gap || ''; q.dst_overlap = body.dst_policy.overlap || ''; }
    return q;
  }
  const open = Boolean(initial && (initial.jitter_seconds || initial.active_from || initial.active_until || initial.dst_policy));
  const element = parts.length
    ? h('details', { class: 'advanced', open }, h('summary', null, 'Schedule options: jitter, active window, daylight saving'), ...parts, message)
    : null;
  return { element, read, previewQuery };
}

/** The description and next runs, in the trigger's zone, with the viewer's time beside them. */
function showPreview(container, answer) {
  let previousOffset = null;
  const items = answer.next_runs.map((run) => {
    const offset = run.local.slice(19).replace(/^\.\d+/, '') || 'Z';
    const marks = [];
    if (run.dst_adjusted) marks.push(h('span', { class: 'badge dst', title: 'This wall time does not exist on that day (clocks go forward); the run happens right after the gap.' }, 'DST: moved past the gap'));
    if (previousOffset !== null && offset !== previousOffset) marks.push(h('span', { class: 'badge dst', title: 'The zone changes its UTC offset before this run.' }, `clocks change: UTC${offset}`));
    previousOffset = offset;
    const local = formatTime(run.utc, answer.timezone);
    const mine = answer.timezone !== viewerZone ? h('span', { class: 'muted' }, ` · ${formatTime(run.utc)} your time`) : null;
    return h('li', { 'data-dst': String(run.dst_adjusted) }, h('time', { datetime: run.utc }, local), ` (UTC${offset === 'Z' ? '' : offset})`, mine, ...marks);
  });
  replace(container,
    h('p', { class: 'description' }, answer.description),
    h('p', { class: 'label' }, `Next ${answer.next_runs.length} runs (${answer.timezone})`),
    h('ol', { class: 'next-runs' }, items));
}

// ---------------------------------------------------------------- dependency

/**
 * The upstream picker (cycles marked), the condition with what it means, and the delay;
 * `initial` is the trigger being edited. Where the API takes `depends_on_workflow_ids`
 * (`features`), the picker is a list of checkboxes: a join over several upstreams.
 */
export function dependencyForm(prefix, workflowId, onChange, initial = null, features = null) {
  const multi = Boolean(features && features.has('depends_on_workflow_ids'));
  const initialIds = initial ? (initial.depends_on_workflow_ids && initial.depends_on_workflow_ids.length
    ? initial.depends_on_workflow_ids : [initial.depends_on_workflow_id]).filter((id) => id !== null && id !== undefined) : [];
  const state = { upstreams: initialIds, condition: (initial && initial.dependency_condition) || 'on_success',
    delay: initial ? initial.delay_minutes ?? 0 : 0, candidates: [], valid: false };
  const select = multi
    ? h('div', { id: `${prefix}-upstream`, class: 'upstream-list', role: 'group', 'aria-labelledby': `${prefix}-upstream-label`, 'aria-describedby': `${prefix}-upstream-msg` })
    : h('select', { id: `${prefix}-upstream`, 'aria-describedby': `${prefix}-upstream-msg` });
  const message = fieldMessage(`${prefix}-upstream-msg`);
  const explain = h('p', { class: 'hint', id: `${prefix}-condition-explain` });
  const delay = h('input', { id: `${prefix}-delay`, type: 'number', min: 0, max: 60, step: 1, value: state.delay, inputmode: 'numeric', 'aria-describedby': `${prefix}-delay-msg` });
  const delayMessage = fieldMessage(`${prefix}-delay-msg`);
  const conditions = choiceGroup('Condition', CONDITIONS, state.condition, (id) => { state.condition = id; update(); });

  function chosen() { return state.upstreams.map((id) => state.candidates.find((c) => c.id === id)).filter(Boolean); }
  function upstreamName() {
    const found = chosen();
    if (!found.length) return 'the upstream workflow';
    if (found.length === 1) return `“${found[0].name}”`;
    return `each of ${found.map((c) => `“${c.name}”`).join(', ')}`;
  }

  function update() {
    const found = chosen();
    const cycle = found.find((c) => c.creates_cycle);
    const delayValue = String(delay.value).trim();
    const delayOK = /^\d+$/.test(delayValue) && Number(delayValue) <= 60;
    state.delay = delayOK ? Number(delayValue) : null;
    setMessage(delayMessage, delayOK ? '' : 'delay_minutes must be a whole number from 0 to 60');
    if (!found.length) setMessage(message, state.candidates.length ? (multi ? 'Choose the workflows this one runs after.' : 'Choose the workflow this one runs after.') : '', 'hint');
    else if (cycle) setMessage(message, `circular dependency: ${cycle.cycle.map((w) => w.name).join(' → ')} — choose another upstream.`);
    else setMessage(message, '');
    const condition = CONDITIONS.find((c) => c.id === state.condition);
    const suffix = state.delay ? `, ${state.delay} minute${state.delay === 1 ? '' : 's'} later` : '';
    const text = found.length > 1
      ? `Runs once ${upstreamName()} has ${condition.id === 'on_success' ? 'completed successfully' : condition.id === 'on_failure' ? 'failed' : 'finished'} since this trigger last fired`
      : condition.explain(upstreamName()).replace(/\.$/, '');
    replace(explain, `${text}${suffix}.`);
    state.valid = Boolean(found.length && !cycle && delayOK);
    onChange();
  }

  if (!multi) select.addEventListener('change', () => { state.upstreams = select.value ? [Number(select.value)] : []; update(); });
  delay.addEventListener('input', update);

  const element = h('div', { class: 'trigger-form' },
    h('div', { class: 'field' },
      multi ? h('span', { class: 'label', id: `${prefix}-upstream-label` }, 'Runs after') : h('label', { for: select.id }, 'Runs after'),
      select, message),
    h('span', { class: 'label' }, 'Condition'), conditions, explain,
    h('div', { class: 'field narrow' }, h('label', { for: delay.id }, 'Delay (minutes, 0–60)'), delay, delayMessage));

  function optionLabel(c) { return c.creates_cycle ? `${c.name} — would create a cycle` : c.name; }

  (async () => {
    if (multi) replace(select, h('p', { class: 'muted small' }, 'Loading workflows…'));
    else replace(select, h('option', { value: '' }, 'Loading workflows…'));
    try {
      const answer = await get(`/workflows/available-upstream${query({ workflow_id: workflowId })}`);
      state.candidates = answer.workflows;
      if (multi) {
        replace(select, state.candidates.map((c) => {
          const box = h('input', { type: 'checkbox', id: `${prefix}-upstream-${c.id}`, value: c.id, 'data-cycle': String(c.creates_cycle), checked: state.upstreams.includes(c.id) });
          box.addEventListener('change', () => {
            state.upstreams = box.checked ? [...state.upstreams, c.id] : state.upstreams.filter((id) => id !== c.id);
            update();
          });
          return h('label', { class: `check ${c.creates_cycle ? 'cycle' : ''}`, for: box.id }, box, ' ', optionLabel(c));
        }));
      } else {
        replace(select, h('option', { value: '' }, state.candidates.length ? 'Choose a workflow…' : 'No other workflows yet'),
          state.candidates.map((c) => h('option', { value: c.id, 'data-cycle': String(c.creates_cycle) }, optionLabel(c))));
        if (state.upstreams.length) select.value = String(state.upstreams[0]);
      }
      if (!state.candidates.length) setMessage(message, 'There is no other workflow to depend on yet: create the upstream workflow first.', 'hint');
    } catch (error) {
      setMessage(message, error.message);
    }
    update();
  })();

  return {
    element,
    get valid() { return state.valid; },
    value: () => {
      const body = { trigger_type: 'dependency', dependency_condition: state.condition, delay_minutes: state.delay };
      // One upstream keeps the single-id form (it replaces a join's list too); a join sends the list.
      if (state.upstreams.length > 1) body.depends_on_workflow_ids = [...state.upstreams];
      else body.depends_on_workflow_id = state.upstreams[0] ?? null;
      return body;
    },
  };
}

// ---------------------------------------------------------------- event

/** A webhook or a file arrival, with optional JSON settings; `initial` is the trigger being edited (its event type stays). */
export function eventForm(prefix, onChange, initial = null) {
  const state = { type: initial ? initial.event_type : 'webhook', config: null, valid: true };
  const types = choiceGroup('Event type', [{ id: 'webhook', label: 'Webhook' }, { id: 'file_arrival', label: 'File arrival' }], state.type, (id) => {
    if (initial && id !== initial.event_type) { types.select(initial.event_type); return; }
    state.type = id;
    config.placeholder = id === 'webhook' ? '{}' : '{"directory": "/data/incoming", "pattern": "*.csv"}';
    label.textContent = id === 'webhook' ? 'Settings (JSON, optional)' : 'Settings (JSON)';
    explain.textContent = EXPLAIN[id];
    update();
  });
  const EXPLAIN = {
    webhook: 'Another system starts this workflow by POSTing to the trigger’s URL, signed with its secret (shown once, after adding).',
    file_arrival: 'Runs once for each file that appears in the settings’ directory (an absolute path) and matches its pattern.',
  };
  const explain = h('p', { class: 'hint' }, EXPLAIN[state.type]);
  const config = h('textarea', { id: `${prefix}-event-config`, class: 'mono', rows: 3, spellcheck: 'false', 'aria-describedby': `${prefix}-event-msg`,
    placeholder: state.type === 'webhook' ? '{}' : '{"directory": "/data/incoming", "pattern": "*.csv"}' });
  if (initial && initial.event_config) config.value = JSON.stringify(initial.event_config, null, 2);
  const message = fieldMessage(`${prefix}-event-msg`);
  const label = h('label', { for: config.id }, state.type === 'webhook' ? 'Settings (JSON, optional)' : 'Settings (JSON)');
  if (initial) {
    // A trigger's event type cannot change (the API says so too): the other choice is shown, not offered.
    for (const button of types.querySelectorAll('[data-choice]')) if (button.dataset.choice !== initial.event_type) button.disabled = true;
  }
  function update() {
    const text = config.value.trim();
    state.valid = true;
    state.config = null;
    setMessage(message, '');
    if (text) {
      try {
        const parsed = JSON.parse(text);
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('event_config must be a JSON object');
        state.config = parsed;
      } catch (error) {
        state.valid = false;
        setMessage(message, `event_config: ${error.message}`);
      }
    }
    // What the API would refuse, said before sending: a file arrival needs its folder.
    if (state.valid && state.type === 'file_arrival') {
      const directory = state.config && state.config.directory;
      if (!state.config) {
        state.valid = false;
        setMessage(message, 'A file arrival needs settings: {"directory": "/data/incoming", "pattern": "*.csv"}');
      } else if (typeof directory !== 'string' || !directory.startsWith('/')) {
        state.valid = false;
        setMessage(message, 'event_config.directory is required: the absolute path of the folder to watch');
      }
    }
    onChange();
  }
  config.addEventListener('input', update);
  const element = h('div', { class: 'trigger-form' },
    h('span', { class: 'label' }, 'Event'), types, explain,
    h('div', { class: 'field' }, label, config, message));
  if (initial) update();
  return {
    element,
    get valid() { return state.valid; },
    value: () => ({ trigger_type: 'event', event_type: state.type, event_config: state.config }),
  };
}

/** The form for a trigger type, filled from `initial` when editing a trigger, with the fields the API has (`features`). */
export function triggerForm(type, prefix, workflowId, onChange, initial = null, features = null) {
  if (type === 'scheduled') return scheduledForm(prefix, onChange, initial, features);
  if (type === 'dependency') return dependencyForm(prefix, workflowId, onChange, initial, features);
  return eventForm(prefix, onChange, initial);
}
