// The Executions monitor and the page of one run. Both follow changes by short polling of the
// public API (every 2 s for the list, every half second for an unfinished run, whose running
// step's output the worker writes once a second) while the tab is visible.
import { allWorkflows, get, post, query } from './api.js';
import { emptyState, errorState, loading, pageHeader, poll, statusBadge, toast } from './components.js';
import { confirmDialog, formatDuration, formatTime, formatTimeWithSeconds, h, replace, runDuration } from './dom.js';
import { icon, triggerIcon } from './icons.js';
import { runActions, runInputs } from './run-details.js';

const STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled', 'skipped'];
const TRIGGER_TYPES = ['manual', 'scheduled', 'dependency', 'event'];
const FINISHED = new Set(['completed', 'failed', 'cancelled', 'skipped']);
const PAGE = 50;

export async function renderExecutions(main, params) {
  const filters = { workflow_id: params.get('workflow_id') || '', status: params.get('status') || '', trigger_type: params.get('trigger_type') || '' };
  // The newest page follows the API live. "Load older" continues from `next_before_id`; from
  // then on `floor` is the oldest id shown, and each refresh reads everything down to it.
  let floor = null;
  const body = h('div', { class: 'card table-card' }, loading('Loading runs…'));
  const workflowSelect = h('select', { id: 'filter-workflow' }, h('option', { value: '' }, 'All workflows'));
  const statusSelect = select('filter-status', 'Any status', STATUSES, filters.status);
  const typeSelect = select('filter-type', 'Any trigger', TRIGGER_TYPES, filters.trigger_type);
  const live = h('span', { class: 'live', title: 'The list refreshes every 2 seconds while this tab is visible.' }, h('span', { class: 'live-dot', 'aria-hidden': 'true' }), 'Live');

  replace(main,
    pageHeader('Executions', 'Every run, newest first.', live),
    h('div', { class: 'filters', role: 'search' },
      h('div', { class: 'field' }, h('label', { for: 'filter-workflow' }, 'Workflow'), workflowSelect),
      h('div', { class: 'field' }, h('label', { for: 'filter-status' }, 'Status'), statusSelect),
      h('div', { class: 'field' }, h('label', { for: 'filter-type' }, 'Started by'), typeSelect)),
    body);

  allWorkflows().then((workflows) => {
    workflowSelect.append(...workflows.map((w) => h('option', { value: w.id }, w.name)));
    workflowSelect.value = filters.workflow_id;
  }).catch(() => {});

  /** The newest runs down to `floor` (or the newest page), and whether older ones exist. */
  async function fetchRows() {
    const first = await get(`/executions${query({ ...filters, limit: PAGE })}`);
    const executions = [...first.executions];
    let next = first.next_before_id;
    while (floor !== null && next && next > floor) {
      const page = await get(`/executions${query({ ...filters, limit: 200, before_id: next })}`);
      executions.push(...page.executions);
      next = page.next_before_id;
    }
    if (floor === null) return { executions, older: Boolean(next) };
    return { executions: executions.filter((e) => e.id >= floor), older: Boolean(next) || executions.some((e) => e.id < floor) };
  }

  let shown = '';
  // Bumped when the filters or the floor change: an answer asked for before is not shown.
  let version = 0;
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
    if (!answer.executions.length) {
      const filtered = Object.values(filters).some(Boolean);
      replace(body, emptyState(filtered ? 'No runs match these filters' : 'No runs yet',
        filtered ? 'Change or clear the filters above.' : 'Runs appear here when someone presses “Run now” or a trigger fires.'));
      return;
    }
    const more = answer.older
      ? h('button', { type: 'button', class: 'secondary', 'data-focus-key': 'load-older', onclick: () => loadOlder(answer.executions) }, 'Load older')
      : null;
    replace(body, h('div', { class: 'table-scroll' }, h('table', { class: 'table executions-table' },
      h('thead', null, h('tr', null, ['Run', 'Workflow', 'Status', 'Started by', 'Queued', 'Duration'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, answer.executions.map(executionRow)))), more);
  }

  /** The page before the oldest run shown; focus stays on the button, or goes to the first new row. */
  async function loadOlder(executions) {
    const oldest = executions[executions.length - 1].id;
    try {
      const page = await get(`/executions${query({ ...filters, limit: PAGE, before_id: oldest })}`);
      version += 1;
      if (page.executions.length) floor = page.executions[page.executions.length - 1].id;
      show({ executions: [...executions, ...page.executions], older: Boolean(page.next_before_id) });
    } catch (error) {
      toast(error.message, 'error');
      return;
    }
    const again = body.querySelector('[data-focus-key="load-older"]')
      || body.querySelector(`tbody tr:nth-child(${executions.length + 1}) a`);
    if (again) again.focus();
  }

  function changed() {
    filters.workflow_id = workflowSelect.value;
    filters.status = statusSelect.value;
    filters.trigger_type = typeSelect.value;
    floor = null;
    version += 1;
    history.replaceState(null, '', `#/executions${query(filters)}`);
    replace(body, loading('Loading runs…'));
    shown = '';
    refresh().catch(() => {});
  }
  for (const control of [workflowSelect, statusSelect, typeSelect]) control.addEventListener('change', changed);

  return poll(refresh, 2000);
}

function select(id, anyLabel, values, selected) {
  const el = h('select', { id }, h('option', { value: '' }, anyLabel), values.map((v) => h('option', { value: v }, v)));
  el.value = selected;
  return el;
}

function executionRow(e) {
  return h('tr', { 'data-execution-id': e.id, 'data-status': e.status },
    h('td', null, h('a', { href: `#/executions/${e.id}`, class: 'strong' }, `#${e.id}`)),
    h('td', null, h('a', { href: `#/workflows/${e.workflow_id}` }, e.workflow_name)),
    h('td', null, statusBadge(e.status)),
    h('td', null, startedBy(e)),
    h('td', null, h('time', { datetime: e.queued_at }, formatTime(e.scheduled_for || e.queued_at))),
    h('td', null, runDuration(e)));
}

/** The trigger-type icon and trigger name, and for a dependency run the run that started it. */
function startedBy(e) {
  return h('span', { class: 'started-by', 'data-trigger-type': e.trigger_type },
    triggerIcon(e.trigger_type), ' ', e.trigger_name || e.trigger_type,
    e.upstream_execution_id ? [' · ', h('a', { href: `#/executions/${e.upstream_execution_id}`, class: 'small' }, `after #${e.upstream_execution_id}`)] : null);
}

// ---------------------------------------------------------------- one run

let primed = null;

/** "Run now" hands over the run it just created, so its page opens at once, showing it queued. */
export function primeExecution(execution) { primed = execution; }

export async function renderExecution(main, id) {
  let execution = primed && primed.id === id ? primed : null;
  primed = null;
  if (!execution) {
    replace(main, loading('Loading run…'));
    execution = await get(`/executions/${id}`);
  }
  const container = h('div');
  replace(main, container);

  let shown = '';
  function render() {
    const signature = JSON.stringify(execution);
    if (signature === shown) return;
    shown = signature;
    const cancel = FINISHED.has(execution.status) ? null : h('button', {
      type: 'button', class: 'secondary danger-text', onclick: async () => {
        if (!(await confirmDialog(`Cancel run #${execution.id}?`, 'A running step is stopped (its whole process group); a queued run leaves the queue.', 'Cancel run'))) return;
        try {
          execution = await post(`/executions/${execution.id}/cancel`);
          toast(`Run #${execution.id} cancelled.`, 'success');
          render();
        } catch (error) {
          toast(error.message, 'error');
        }
      },
    }, icon('x'), 'Cancel');
    replace(container,
      h('p', { class: 'breadcrumb' }, h('a', { href: '#/executions' }, 'Executions'), ' / ', h('a', { href: `#/workflows/${execution.workflow_id}` }, execution.workflow_name), ' /'),
      pageHeader(h('span', null, `Run #${execution.id} `, h('span', { class: 'run-status', 'data-testid': 'run-status' }, statusBadge(execution.status))), null, runActions(execution, primeExecution), cancel),
      h('dl', { class: 'facts' },
        h('div', null, h('dt', null, 'Workflow'), h('dd', null, h('a', { href: `#/workflows/${execution.workflow_id}` }, execution.workflow_name))),
        h('div', null, h('dt', null, 'Started by'), h('dd', null, startedBy(execution))),
        execution.scheduled_for ? h('div', null, h('dt', null, 'Scheduled for'), h('dd', null, formatTime(execution.scheduled_for, undefined, true))) : null,
        h('div', null, h('dt', null, 'Attempt'), h('dd', null, String(execution.attempt))),
        h('div', null, h('dt', null, 'Duration'), h('dd', null, runDuration(execution))),
        execution.worker_id ? h('div', null, h('dt', null, 'Worker'), h('dd', { class: 'mono small' }, execution.worker_id)) : null),
      timeline(execution),
      execution.error ? h('div', { class: 'error-state', role: 'alert' }, h('p', null, execution.error)) : null,
      runInputs(execution),
      h('h2', null, 'Steps'),
      steps(execution));
  }
  render();
  const stop = poll(async () => {
    if (FINISHED.has(execution.status)) return;
    execution = await get(`/executions/${id}`);
    render();
  }, 500);
  return stop;
}

function timeline(e) {
  const entries = [['queued', 'Queued', e.queued_at], ['running', 'Started', e.started_at], [e.status, 'Finished', e.finished_at]];
  return h('ol', { class: 'timeline', 'aria-label': 'Timeline' }, entries.map(([status, label, at]) => h('li', { class: at ? `done status-${status}` : 'pending' },
    h('span', { class: 'timeline-dot', 'aria-hidden': 'true' }), h('span', { class: 'strong' }, label === 'Finished' && at ? e.status : label),
    h('span', { class: 'muted small' }, at ? ` ${formatTimeWithSeconds(at)}` : ' —'))));
}

function steps(e) {
  if (!e.steps.length) {
    return emptyState(FINISHED.has(e.status) ? 'No step ran' : 'Waiting for a worker', FINISHED.has(e.status) ? null : 'Step results appear as the worker records them.');
  }
  return h('ol', { class: 'step-results' }, e.steps.map((step, index) => {
    const ms = step.started_at && step.finished_at ? new Date(step.finished_at) - new Date(step.started_at) : null;
    const running = step.status === 'running';
    return h('li', { class: 'card' },
      h('div', { class: 'step-head' }, h('span', { class: 'strong' }, step.name), statusBadge(step.status),
        step.exit_code !== null && step.exit_code !== undefined ? h('span', { class: 'muted small' }, `exit ${step.exit_code}`) : null,
        h('span', { class: 'muted small' }, ms !== null ? formatDuration(ms) : ''),
        running ? h('span', { class: 'muted small', 'data-testid': 'live-output-bytes' }, `${step.output_bytes ?? 0} bytes so far`) : null),
      step.output ? stepOutput(step, index) : h('p', { class: 'muted small' }, running ? 'No output yet' : 'No output'));
  }));
}

/**
 * A step's output. The page is rebuilt at each change, so the reader's place in it is carried
 * over; a running step's output follows what it prints (stays at its end) unless the reader
 * scrolled up in it.
 */
function stepOutput(step, index) {
  const running = step.status === 'running';
  const previous = document.querySelector(`pre.output[data-step="${index}"]`);
  const atEnd = !previous || previous.scrollTop + previous.clientHeight >= previous.scrollHeight - 8;
  const top = previous ? previous.scrollTop : 0;
  const pre = h('pre', {
    class: 'output', 'data-step': index, 'data-testid': running ? 'live-output' : null, tabindex: 0,
    'aria-label': running ? `Output of ${step.name} so far` : `Output of ${step.name}`,
  }, step.output);
  // Once the new page is in place (replace() runs right after this returns).
  queueMicrotask(() => { pre.scrollTop = running && atEnd ? pre.scrollHeight : top; });
  return pre;
}
