// Small helpers for building the page without a framework. Text always goes in as text nodes,
// never as HTML, so nothing from the API can inject markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

function apply(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key === 'value' && 'value' in el) {
      el.value = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** h('button', {class: 'primary', onclick}, 'Save') */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs);
  return append(el, children);
}

/** The same for SVG elements. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs);
  return append(el, children);
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Calls fn at most once per `ms` of quiet. */
export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// ---------------------------------------------------------------- time

export const viewerZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

/** "Thu 15 Jan, 11:00" in `zone` (default: the viewer's). */
export function formatTime(iso, zone = viewerZone, withZone = false) {
  if (!iso) return '—';
  const options = { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: zone };
  if (new Date(iso).getUTCFullYear() !== new Date().getUTCFullYear()) options.year = 'numeric';
  if (withZone) options.timeZoneName = 'short';
  return new Intl.DateTimeFormat(undefined, options).format(new Date(iso));
}

export function formatTimeWithSeconds(iso, zone = viewerZone) {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(undefined, {
    day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZone: zone,
  }).format(new Date(iso));
}

/** "in 3 h", "5 min ago". */
export function relative(iso, now = Date.now()) {
  if (!iso) return '';
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  const [value, unit] = abs < 60 ? [abs, 's'] : abs < 3600 ? [Math.round(abs / 60), 'min'] : abs < 172800 ? [Math.round(abs / 3600), 'h'] : [Math.round(abs / 86400), 'd'];
  return seconds >= 0 ? `in ${value} ${unit}` : `${value} ${unit} ago`;
}

export function formatDuration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${ms} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** How long a run took, or has been running so far. */
export function runDuration(execution, now = Date.now()) {
  if (execution.duration_ms !== null && execution.duration_ms !== undefined) return formatDuration(execution.duration_ms);
  if (execution.started_at && !execution.finished_at) return formatDuration(now - new Date(execution.started_at).getTime()) + ' so far';
  return '—';
}

// ---------------------------------------------------------------- wall time in a zone

/** RFC 3339 in UTC to the second, as the API writes times. */
export function isoSeconds(date) { return date.toISOString().replace(/\.\d{3}Z$/, 'Z'); }

/** How far `zone`'s wall clock is ahead of UTC at the instant `ms`, in milliseconds. */
function zoneOffset(ms, zone) {
  const parts = {};
  for (const part of new Intl.DateTimeFormat('en-US', {
    timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
  }).formatToParts(new Date(ms))) parts[part.type] = Number(part.value);
  return Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second) - Math.floor(ms / 1000) * 1000;
}

/**
 * The instant of the wall time "YYYY-MM-DDTHH:MM" in `zone`, or null. A wall time the clocks
 * skip counts as the instant the same distance after the gap; a repeated one as its first pass.
 */
export function zonedToUTC(value, zone) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value || '');
  if (!m) return null;
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] || 0));
  // The zone's offsets a day either side cover any one change of its clocks.
  const before = zoneOffset(wall - 86400000, zone);
  const offsets = [before, zoneOffset(wall, zone), zoneOffset(wall + 86400000, zone)];
  const passes = offsets.map((offset) => wall - offset).filter((t) => t + zoneOffset(t, zone) === wall);
  return new Date(passes.length ? Math.min(...passes) : wall - before);
}

/** The wall time of `date` in `zone`, as a datetime-local input wants it. */
export function wallTime(date, zone) {
  const shifted = new Date(date.getTime() + zoneOffset(date.getTime(), zone));
  return shifted.toISOString().slice(0, 16);
}

// ---------------------------------------------------------------- dialogs

/** Opens a modal <dialog>; resolves when it closes. Escape closes it, focus returns where it was. */
export function openDialog(dialog) {
  const opener = document.activeElement;
  document.body.append(dialog);
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(dialog.returnValue);
    }, { once: true });
  });
}

/** A yes/no question in a dialog; resolves true for yes. */
export async function confirmDialog(title, text, yesLabel = 'Delete') {
  const dialog = h('dialog', { class: 'dialog small', 'aria-labelledby': 'confirm-title' },
    h('form', { method: 'dialog' },
      h('h2', { id: 'confirm-title' }, title),
      h('p', null, text),
      h('div', { class: 'dialog-actions' },
        h('button', { value: 'no', class: 'secondary', autofocus: true }, 'Cancel'),
        h('button', { value: 'yes', class: 'danger' }, yesLabel))));
  return (await openDialog(dialog)) === 'yes';
}
