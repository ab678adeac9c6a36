// One workflow: its steps, "Run now", the Triggers section, who depends on it, recent runs, and
// its alerts (the rules that cover it, its last alerts).
import { apiFeatures, del, get, post } from './api.js';
import { emptyState, errorState, loading, pageHeader, poll, statusBadge, toast } from './components.js';
import { confirmDialog, formatTime, h, relative, replace, runDuration } from './dom.js';
import { primeExecution } from './executions.js';
import { openRunWithParams } from './params.js';
import { icon, triggerIcon } from './icons.js';
import { openAddTrigger, triggerCards } from './triggers.js';
import { workflowAlerts } from './workflow-alerts.js';
import { openEditWorkflow } from './workflow-edit.js';

export async function renderWorkflow(main, id) {
  replace(main, loading('Loading workflow…'));
  let workflow = await get(`/workflows/${id}`);
  const features = await apiFeatures();

  const header = h('div');
  const triggersBody = h('div');
  const stepsBody = h('div', { class: 'card' });
  const dependents = h('div');
  const runsBody = h('div', { class: 'card table-card' }, loading());
  const alerts = workflowAlerts(id);
  const addButton = h('button', { type: 'button', class: 'secondary', onclick: () => openAddTrigger(workflow, refresh) }, icon('plus'), 'Add trigger');

  replace(main, header,
    h('div', { class: 'detail-grid' },
      h('section', { 'aria-labelledby': 'triggers-title', class: 'triggers-section' },
        h('div', { class: 'section-head' }, h('h2', { id: 'triggers-title' }, 'Triggers'), addButton),
        triggersBody, dependents),
      h('section', { 'aria-labelledby': 'steps-title' }, h('h2', { id: 'steps-title' }, 'Steps'), stepsBody)),
    h('section', { 'aria-labelledby': 'runs-title' },
      h('div', { class: 'section-head' }, h('h2', { id: 'runs-title' }, 'Recent runs'), h('a', { href: `#/executions?workflow_id=${id}` }, 'All runs →')),
      runsBody),
    alerts.element);

  let shown = {};
  /** Re-renders a part only when its data changed, so polling leaves focus and open menus alone. */
  function show(part, data, render) {
    const signature = JSON.stringify(data);
    if (shown[part] === signature) return;
    shown[part] = signature;
    const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.focusKey : null;
    render();
    if (focused) { const again = main.querySelector(`[data-focus-key="${focused}"]`); if (again) again.focus(); }
  }

  function renderAll() {
    show('header', [workflow.name, workflow.description, workflow.next_run_at, workflow.last_execution, workflow.paused_at,
      workflow.max_attempts, workflow.retry_backoff_seconds, workflow.timeout_seconds, workflow.overlap_policy, workflow.max_concurrent_runs],
    () => replace(header, headerFor(workflow, refresh, features)));
    show('triggers', workflow.triggers, () => replace(triggersBody, triggerCards(workflow, refresh)));
    show('steps', workflow.steps, () => replace(stepsBody, stepList(workflow)));
  }

  async function refresh() {
    workflow = await get(`/workflows/${id}`);
    renderAll();
    const [runs, deps] = await Promise.all([
      get(`/executions?workflow_id=${id}&limit=10`),
      get(`/workflows/${id}/triggers/dependencies`),
    ]);
    show('runs', runs.executions, () => replace(runsBody, recentRuns(runs.executions)));
    show('deps', deps.downstream, () => replace(dependents, downstreamList(deps.downstream)));
    await alerts.refresh();
  }

  renderAll();
  return poll(async () => {
    try {
      await refresh();
    } catch (error) {
      if (error.status === 404) replace(main, errorState(new Error(`Workflow ${id} no longer exists.`)));
      throw error;
    }
  }, 4000);
}

function headerFor(workflow, refresh, features) {
  const run = h('button', {
    type: 'button', class: 'primary', onclick: async () => {
      run.disabled = true;
      try {
        const execution = await post(`/workflows/${workflow.id}/run`);
        toast(`Run #${execution.id} of ${workflow.name} queued.`, 'success');
        primeExecution(execution);
        location.hash = `#/executions/${execution.id}`;
      } catch (error) {
        toast(error.message, 'error');
        run.disabled = false;
      }
    },
  }, icon('play'), 'Run now');
  // Where the API takes run parameters: the same, with a JSON object for the steps.
  const runWithParams = features.has('params') ? h('button', {
    type: 'button', class: 'secondary', 'data-focus-key': 'run-with-params', onclick: async () => {
      const execution = await openRunWithParams({
        title: `Run ${workflow.name} with parameters`, path: `/workflows/${workflow.id}/run`, submitLabel: 'Run now',
        text: 'A manual run, like Run now, with these parameters.',
      });
      if (!execution) return;
      toast(`Run #${execution.id} of ${workflow.name} queued.`, 'success');
      primeExecution(execution);
      location.hash = `#/executions/${execution.id}`;
    },
  }, 'Run with params…') : null;
  const paused = Boolean(workflow.paused_at);
  const pause = h('button', {
    type: 'button', class: 'secondary', 'data-testid': paused ? 'resume-workflow' : 'pause-workflow', onclick: async () => {
      pause.disabled = true;
      try {
        await post(`/workflows/${workflow.id}/${paused ? 'resume' : 'pause'}`);
        toast(paused ? `${workflow.name} resumed: its triggers start runs again.` : `${workflow.name} paused: no trigger starts it until you resume it.`, 'success');
      } catch (error) {
        toast(error.message, 'error');
      }
      refresh();
    },
  }, icon(paused ? 'play' : 'pause'), paused ? 'Resume' : 'Pause');
  const edit = h('button', {
    type: 'button', class: 'secondary', 'data-focus-key': 'edit-workflow', onclick: async () => {
      try {
        // The page may be a few seconds old: edit what the API has now.
        openEditWorkflow(await get(`/workflows/${workflow.id}`), () => refresh());
      } catch (error) {
        toast(error.message, 'error');
      }
    },
  }, icon('edit'), 'Edit');
  const remove = h('button', {
    type: 'button', class: 'secondary danger-text', onclick: async () => {
      if (!(await confirmDialog(`Delete ${workflow.name}?`, 'Its triggers go with it, as do other workflows’ dependency triggers on it; queued runs are cancelled. Past runs stay readable.'))) return;
      try {
        await del(`/workflows/${workflow.id}`);
        toast(`Deleted ${workflow.name}.`, 'success');
        location.hash = '#/workflows';
      } catch (error) {
        toast(error.message, 'error');
        refresh();
      }
    },
  }, icon('trash'), 'Delete');
  const last = workflow.last_execution;
  return [
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/workflows' }, 'Workflows'), ' / '),
    pageHeader(workflow.name, workflow.description || null, run, runWithParams, edit, pause, remove),
    paused ? h('p', { class: 'notice', 'data-testid': 'paused-notice' }, h('span', { class: 'badge paused' }, 'Paused'),
      ` since ${formatTime(workflow.paused_at)}: schedules, upstream runs, webhooks and files start no run. Run now still works; on resume, missed schedules follow their misfire policy.`) : null,
    h('dl', { class: 'facts' },
      h('div', null, h('dt', null, 'Next run'), h('dd', { 'data-testid': 'detail-next-run' }, paused ? 'None while paused' : workflow.next_run_at ? `${formatTime(workflow.next_run_at)} (${relative(workflow.next_run_at)})` : 'Not scheduled')),
      h('div', null, h('dt', null, 'Last run'), h('dd', null, last ? h('a', { href: `#/executions/${last.id}` }, statusBadge(last.status), ' ', relative(last.finished_at || last.queued_at)) : 'Never run')),
      h('div', null, h('dt', null, 'Attempts'), h('dd', null, `${workflow.max_attempts}${workflow.max_attempts > 1 ? `, ${workflow.retry_backoff_seconds} s apart` : ''}`)),
      h('div', null, h('dt', null, 'Timeout'), h('dd', null, `${workflow.timeout_seconds} s`)),
      h('div', null, h('dt', null, 'Overlap'), h('dd', null, `${workflow.overlap_policy}, at most ${workflow.max_concurrent_runs} at once`))),
  ];
}

function stepList(workflow) {
  return h('ol', { class: 'steps' }, workflow.steps.map((step) => h('li', null,
    h('div', null, h('span', { class: 'strong' }, step.name), ' ', h('span', { class: 'badge' }, step.kind)),
    h('code', { class: 'break small' }, stepSummary(step)))));
}

function stepSummary(step) {
  if (step.kind === 'shell') return step.command.map((arg) => (/[\s"']/.test(arg) ? JSON.stringify(arg) : arg)).join(' ');
  if (step.kind === 'http') return `${step.method} ${step.url}`;
  return `wait ${step.sleep_ms} ms`;
}

function downstreamList(downstream) {
  if (!downstream.length) return null;
  return h('div', { class: 'downstream' }, h('h3', null, 'Starts after this one'),
    h('ul', null, downstream.map((d) => h('li', { class: d.enabled ? '' : 'muted' },
      icon('branch'), ' ', h('a', { href: `#/workflows/${d.workflow_id}` }, d.workflow_name), ` ${d.condition.replace('_', ' ')}`,
      d.delay_minutes ? `, after ${d.delay_minutes} min` : '', d.enabled ? '' : ' (disabled)'))));
}

function recentRuns(executions) {
  if (!executions.length) return emptyState('No runs yet', 'Press “Run now”, or wait for a trigger.');
  return h('div', { class: 'table-scroll' }, h('table', { class: 'table' },
    h('thead', null, h('tr', null, ['Run', 'Status', 'Started by', 'Queued', 'Duration'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, executions.map((e) => h('tr', null,
      h('td', null, h('a', { href: `#/executions/${e.id}` }, `#${e.id}`)),
      h('td', null, statusBadge(e.status)),
      h('td', null, h('span', { class: 'started-by' }, triggerIcon(e.trigger_type), ' ', e.trigger_name || e.trigger_type)),
      h('td', null, formatTime(e.queued_at)),
      h('td', null, runDuration(e)))))));
}
