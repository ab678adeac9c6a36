// How alerts read on every page that shows them: a rule's events as chips ("3 failures in a
// row", "late > 5 min"), a delivery's status as a badge, a channel's target in one line.
import { h } from './dom.js';

/** The event types in the order the API answers them, with what each means to a reader. */
export const EVENT_TYPES = [
  { type: 'failed', label: 'Failed', explain: 'a run fails after its last attempt' },
  { type: 'succeeded', label: 'Succeeded', explain: 'every run that completes' },
  { type: 'recovered', label: 'Recovered', explain: 'the first success after a failure' },
  { type: 'consecutive_failures', label: 'Failures in a row', explain: 'once the count of failed runs in a row reaches this', number: 'count', min: 1, initial: 3 },
  { type: 'late', label: 'Late', explain: 'a scheduled run has not started this long after its time', number: 'seconds', min: 1, initial: 300 },
  { type: 'long_running', label: 'Running long', explain: 'a run is still running after this long', number: 'seconds', min: 1, initial: 3600 },
  { type: 'skipped', label: 'Skipped', explain: 'a run is skipped (by the overlap policy)' },
];

/** 300 → "5 min", 3600 → "1 h", 90 → "90 s". */
export function seconds(value) {
  if (value === null || value === undefined) return '';
  if (value >= 3600 && value % 3600 === 0) return `${value / 3600} h`;
  if (value >= 60 && value % 60 === 0) return `${value / 60} min`;
  return `${value} s`;
}

/** One event of a rule, `{"type":"late","seconds":300}`, as "late > 5 min". */
export function eventText(event) {
  switch (event.type) {
    case 'consecutive_failures': return `${event.count} failures in a row`;
    case 'late': return `late > ${seconds(event.seconds)}`;
    case 'long_running': return `running > ${seconds(event.seconds)}`;
    default: return event.type;
  }
}

/** What an alert was raised for: its `event` and `event_detail` (the count, or the seconds). */
export function alertEventText(alert) {
  const detail = alert.event_detail;
  if (detail === null || detail === undefined) return alert.event;
  if (alert.event === 'consecutive_failures') return eventText({ type: alert.event, count: detail });
  if (alert.event === 'late' || alert.event === 'long_running') return eventText({ type: alert.event, seconds: detail });
  return `${alert.event} (${detail})`;
}

export function eventChip(text, type) {
  return h('span', { class: `event-chip event-${type}` }, text);
}

export function eventChips(events) {
  return h('span', { class: 'event-chips' }, events.map((event) => eventChip(eventText(event), event.type)));
}

/** pending, sending, delivered, failed. */
export function deliveryBadge(status) {
  return h('span', { class: `badge delivery-${status}`, 'data-status': status }, status);
}

export const CHANNEL_KINDS = [
  { kind: 'webhook', label: 'Webhook', text: 'A signed JSON POST to a URL of yours.' },
  { kind: 'slack', label: 'Slack', text: 'A message to a Slack incoming-webhook URL.' },
  { kind: 'email', label: 'Email', text: 'A mail through your SMTP server.' },
];

/** Where a channel sends: the URL, or the SMTP host and the recipients. */
export function channelTarget(channel) {
  if (channel.kind === 'email') {
    const to = channel.to || [];
    return h('span', { class: 'channel-target' },
      h('span', { class: 'mono small' }, `${channel.host}:${channel.port}`), ' ', h('span', { class: 'badge' }, channel.security),
      h('span', { class: 'muted small block' }, `to ${to.slice(0, 3).join(', ')}${to.length > 3 ? ` and ${to.length - 3} more` : ''}`));
  }
  return h('span', { class: 'mono small break' }, channel.url || channel.slack_url_hint || '');
}

export function throttleText(minutes) {
  return minutes ? `at most 1 per ${seconds(minutes * 60)}` : 'none';
}
