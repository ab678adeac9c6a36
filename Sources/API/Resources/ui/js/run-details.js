// What a run was started with, on its page: the runs it follows (upstream runs of a join, the
// run it repeats), its parameters, and the event behind an event run (a webhook's JSON body, or
// the file that arrived); and "Rerun…". Kept apart from executions.js, which draws the run itself.
import { toast } from './components.js';
import { formatTime, h } from './dom.js';
import { icon } from './icons.js';
import { openRunWithParams } from './params.js';

/** The sections for `execution`'s inputs; nothing when it has none. */
export function runInputs(execution) {
  return [originSection(execution), paramsSection(execution.params), eventSection(execution.event)];
}

/** "Rerun…" where the API has the route (its executions then carry `rerun_of`). */
export function runActions(execution, primeExecution) {
  if (!('rerun_of' in execution)) return null;
  return h('button', {
    type: 'button', class: 'secondary', onclick: async () => {
      const created = await openRunWithParams({
        title: `Rerun #${execution.id}`, path: `/executions/${execution.id}/rerun`, initial: execution.params, submitLabel: 'Rerun',
        text: `A new run of ${execution.workflow_name}, marked as a rerun of #${execution.id}, with these parameters (its own, unless you change them).`,
      });
      if (!created) return;
      toast(`Run #${created.id} queued: a rerun of #${execution.id}.`, 'success');
      primeExecution(created);
      location.hash = `#/executions/${created.id}`;
    },
  }, icon('rotate'), 'Rerun…');
}

function runLink(id) { return h('a', { href: `#/executions/${id}` }, `#${id}`); }

function originSection(execution) {
  const upstream = execution.upstream_execution_ids || [];
  if (!execution.rerun_of && upstream.length < 2) return null;
  return h('dl', { class: 'facts', 'data-testid': 'run-origin' },
    execution.rerun_of ? h('div', null, h('dt', null, 'Rerun of'), h('dd', null, runLink(execution.rerun_of))) : null,
    upstream.length > 1 ? h('div', null, h('dt', null, 'Upstream runs'), h('dd', null, upstream.flatMap((id, i) => (i ? [', ', runLink(id)] : [runLink(id)])))) : null);
}

function paramsSection(params) {
  if (!params || !Object.keys(params).length) return null;
  return h('section', { 'aria-labelledby': 'params-title', class: 'run-inputs' }, h('h2', { id: 'params-title' }, 'Parameters'),
    h('pre', { class: 'json', tabindex: 0, 'aria-label': 'Parameters', 'data-testid': 'run-params' }, JSON.stringify(params, null, 2)));
}

function eventSection(event) {
  if (!event) return null;
  let content;
  if (event.file !== undefined) {
    content = h('dl', { class: 'facts' },
      h('div', null, h('dt', null, 'File'), h('dd', { class: 'mono break' }, event.file)),
      h('div', null, h('dt', null, 'Size'), h('dd', null, event.file_size === null || event.file_size === undefined ? '—' : formatBytes(event.file_size))),
      h('div', null, h('dt', null, 'Modified'), h('dd', null, formatTime(event.file_modified_at, undefined, true))));
  } else if (event.payload !== null && event.payload !== undefined) {
    content = [h('p', { class: 'muted small' }, `The webhook’s JSON body, ${formatBytes(event.payload_bytes)}. Steps read it from the file named by FLOWFORGE_EVENT_PAYLOAD_FILE.`),
      h('pre', { class: 'json', tabindex: 0, 'aria-label': 'Event payload', 'data-testid': 'event-payload' }, JSON.stringify(event.payload, null, 2))];
  } else {
    content = h('p', { class: 'muted', 'data-testid': 'event-payload' },
      `The webhook’s body (${formatBytes(event.payload_bytes ?? 0)}) is not shown here: it is not JSON, or larger than 64 KiB. Steps read it from the file named by FLOWFORGE_EVENT_PAYLOAD_FILE.`);
  }
  return h('section', { 'aria-labelledby': 'event-title', class: 'run-inputs' }, h('h2', { id: 'event-title' }, 'Event'), content);
}

function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} byte${bytes === 1 ? '' : 's'}`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
