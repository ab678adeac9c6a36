// The Workflows page: the list with Next Run, and the create-workflow dialog.
import { get, query } from './api.js';
import { emptyState, errorState, loading, pageHeader, poll, statusBadge } from './components.js';
import { formatTime, h, relative, replace } from './dom.js';
import { icon } from './icons.js';
import { openCreateWorkflow } from './workflow-create.js';

const PAGE = 100;

export async function renderWorkflows(main) {
  const body = h('div', { class: 'card table-card' }, loading('Loading workflows…'));
  const createButton = h('button', { type: 'button', class: 'primary', onclick: () => openCreateWorkflow() }, icon('plus'), 'New workflow');
  replace(main, pageHeader('Workflows', 'What runs, and what starts it.', createButton), body);

  // How many rows to show; "Show more" adds a page. The API answers at most 200 a page, so
  // more than that is fetched page by page with `offset`.
  let wanted = PAGE;
  // Each workflow's triggers, to name the zone of its Next Run and what starts an unscheduled one.
  const triggers = new Map();
  let shown = '';

  async function fetchRows() {
    const workflows = [];
    let total = 0;
    do {
      const answer = await get(`/workflows${query({ limit: Math.min(200, wanted - workflows.length), offset: workflows.length })}`);
      total = answer.total;
      // A workflow created or deleted between two pages shifts the offsets: never list one twice.
      const known = new Set(workflows.map((w) => w.id));
      workflows.push(...answer.workflows.filter((w) => !known.has(w.id)));
      if (!answer.workflows.length) break;
    } while (workflows.length < Math.min(wanted, total));
    return { workflows, total };
  }

  async function refresh() {
    let answer;
    try {
      answer = await fetchRows();
    } catch (error) {
      if (!body.querySelector('table')) replace(body, errorState(error, refresh));
      throw error;
    }
    // Unchanged answers leave the table alone, so polling does not move keyboard focus.
    const signature = JSON.stringify(answer);
    if (signature === shown) return;
    shown = signature;
    if (!answer.workflows.length) {
      replace(body, emptyState('No workflows yet',
        'A workflow is a list of steps — shell commands, HTTP calls. Create one, then run it now, on a schedule, or after another workflow.',
        h('button', { type: 'button', class: 'primary', onclick: () => openCreateWorkflow() }, icon('plus'), 'Create your first workflow')));
      return;
    }
    const rows = answer.workflows.map((workflow) => row(workflow, triggers.get(key(workflow))));
    const more = answer.total > answer.workflows.length
      ? h('button', { type: 'button', class: 'secondary', 'data-focus-key': 'more-workflows', onclick: () => showMore() }, `Show more (${answer.total - answer.workflows.length} left)`)
      : null;
    replace(body, h('div', { class: 'table-scroll' }, h('table', { class: 'table workflows-table' },
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Triggers'), h('th', { scope: 'col' }, 'Next Run'),
        h('th', { scope: 'col' }, 'Last run'))),
      h('tbody', null, rows))), more);
    await loadTriggers(answer.workflows.filter((w) => w.trigger_count > 0 && !triggers.has(key(w))));
  }

  async function showMore() {
    const before = body.querySelectorAll('tbody tr').length;
    wanted += PAGE;
    await refresh();
    // The button was replaced with the table: keep the keyboard on it, or on the first new row.
    const again = body.querySelector('[data-focus-key="more-workflows"]')
      || body.querySelector(`tbody tr:nth-child(${before + 1}) a`);
    if (again) again.focus();
  }

  async function loadTriggers(workflows) {
    if (!workflows.length) return;
    const queue = [...workflows];
    const worker = async () => {
      for (let w = queue.shift(); w; w = queue.shift()) {
        try {
          triggers.set(key(w), (await get(`/workflows/${w.id}/triggers`)).triggers);
          const old = body.querySelector(`tr[data-workflow-id="${w.id}"]`);
          if (old) old.replaceWith(row(w, triggers.get(key(w))));
        } catch { /* the row keeps its plain text */ }
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
  }

  return poll(refresh, 5000);
}

/** Triggers are fetched again when what the list says about them changes. */
const key = (w) => `${w.id}:${w.trigger_count}:${w.next_run_at}:${w.updated_at}`;

function row(workflow, triggers) {
  const last = workflow.last_execution;
  return h('tr', { 'data-workflow-id': workflow.id },
    h('td', null, h('a', { href: `#/workflows/${workflow.id}`, class: 'strong' }, workflow.name),
      workflow.paused_at ? h('span', { class: 'badge paused', 'data-testid': 'paused-badge', title: `Paused ${formatTime(workflow.paused_at)}` }, 'Paused') : null,
      workflow.description ? h('div', { class: 'muted small clamp' }, workflow.description) : null),
    h('td', null, h('span', { class: 'count', title: `${workflow.trigger_count} trigger${workflow.trigger_count === 1 ? '' : 's'}` }, icon('zap'), workflow.trigger_count)),
    h('td', { class: 'next-run' }, nextRun(workflow, triggers)),
    h('td', null, last
      ? h('a', { href: `#/executions/${last.id}`, class: 'last-run' }, statusBadge(last.status), h('span', { class: 'muted small' }, relative(last.finished_at || last.started_at || last.queued_at)))
      : h('span', { class: 'muted' }, 'Never run')));
}

/** The next scheduled run in the viewer's zone (the trigger's zone on hover), or what else starts it. */
function nextRun(workflow, triggers) {
  if (workflow.paused_at) return h('span', { class: 'muted' }, 'Paused: no trigger starts it');
  if (workflow.next_run_at) {
    const trigger = (triggers || []).find((t) => t.next_run_at === workflow.next_run_at && t.timezone);
    const title = trigger
      ? `${formatTime(workflow.next_run_at, trigger.timezone, true)} in ${trigger.timezone} — ${trigger.trigger_name}`
      : `${workflow.next_run_at} (UTC)`;
    return h('span', { title, tabindex: 0, class: 'has-title' },
      h('time', { datetime: workflow.next_run_at }, formatTime(workflow.next_run_at)),
      h('span', { class: 'muted small' }, ` ${relative(workflow.next_run_at)}`));
  }
  if (workflow.trigger_count === 0) return h('span', { class: 'muted' }, 'Manual only');
  if (!triggers) return h('span', { class: 'muted' }, '…');
  const enabled = triggers.filter((t) => t.enabled);
  const upstream = enabled.filter((t) => t.trigger_type === 'dependency')
    .flatMap((t) => (t.depends_on_workflows ? t.depends_on_workflows.map((w) => w.name) : [t.depends_on_workflow_name]));
  if (upstream.length) return h('span', { class: 'muted' }, icon('branch'), ` After ${upstream.join(', ')}`);
  if (enabled.some((t) => t.trigger_type === 'event')) return h('span', { class: 'muted' }, icon('zap'), ' On event');
  return h('span', { class: 'muted' }, 'Manual only', h('span', { class: 'small' }, ' (triggers disabled)'));
}
