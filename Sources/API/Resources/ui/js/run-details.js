// What a run was started with, on its page: the event behind an event run (a webhook's JSON
// body, or the file that arrived). Kept apart from executions.js, which draws the run itself.
import { formatTime, h } from './dom.js';

/** The sections for `execution`'s inputs; nothing when it has none. */
export function runInputs(execution) {
  return [eventSection(execution.event)];
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
