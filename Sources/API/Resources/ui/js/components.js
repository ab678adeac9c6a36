// Pieces every page uses: status badges, empty and error states, toasts, polling.
import { h, replace } from './dom.js';
import { icon } from './icons.js';

export function statusBadge(status) {
  if (!status) return h('span', { class: 'badge status-none' }, 'never ran');
  return h('span', { class: `badge status-${status}`, 'data-status': status }, status);
}

export function emptyState(title, text, ...actions) {
  return h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, title), text ? h('p', null, text) : null, ...actions);
}

export function loading(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

export function errorState(error, retry) {
  return h('div', { class: 'error-state', role: 'alert' },
    h('p', null, error.message || String(error)),
    retry ? h('button', { type: 'button', class: 'secondary', onclick: retry }, 'Try again') : null);
}

/** A line under a form field for the API's sentence; empty when there is nothing to say. */
export function fieldMessage(id) {
  return h('p', { class: 'field-message', id, role: 'alert', 'aria-live': 'polite' });
}

export function setMessage(el, text, kind = 'error') {
  el.className = `field-message ${text ? kind : ''}`;
  replace(el, text || '');
}

// ---------------------------------------------------------------- toasts

export function toast(text, kind = 'info') {
  const region = document.getElementById('toasts');
  const close = h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Dismiss' }, icon('x'));
  const item = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, h('span', null, text), close);
  const remove = () => item.remove();
  close.addEventListener('click', remove);
  region.append(item);
  while (region.children.length > 3) region.firstElementChild.remove();  // the newest three are enough
  setTimeout(remove, kind === 'error' ? 8000 : 4000);
}

// ---------------------------------------------------------------- polling

/**
 * Calls `tick` now and then every `ms` while the page shows, skipping while the tab is hidden and
 * never overlapping two calls. Returns a function that stops it.
 */
export function poll(tick, ms) {
  let stopped = false;
  let timer;
  const run = async () => {
    if (stopped) return;
    if (!document.hidden) {
      try { await tick(); } catch { /* the page shows its own error; keep polling */ }
    }
    if (!stopped) timer = setTimeout(run, ms);
  };
  run();
  return () => { stopped = true; clearTimeout(timer); };
}

/** A page header: title, optional subtitle and actions on the right. */
export function pageHeader(title, subtitle, ...actions) {
  return h('div', { class: 'page-header' },
    h('div', null, h('h1', null, title), subtitle ? h('p', { class: 'subtitle' }, subtitle) : null),
    h('div', { class: 'actions' }, ...actions));
}
