// The backfill dialog of a scheduled trigger: a range in the trigger's own zone, a dry run as
// the range changes (how many times, how many already have a run, the first of them), and only
// then the call that creates the runs, whose count it shows.
import { ApiError, post } from './api.js';
import { fieldMessage, setMessage, toast } from './components.js';
import { debounce, formatTime, h, isoSeconds, openDialog, replace, wallTime, zonedToUTC } from './dom.js';
import { icon } from './icons.js';

const SHOWN_TIMES = 10;

export function openBackfill(workflow, trigger, changed) {
  const zone = trigger.timezone || 'UTC';
  const now = new Date(Math.floor(Date.now() / 60000) * 60000);  // `to` may not be in the future
  const from = h('input', { id: 'bf-from', type: 'datetime-local', step: 60, value: wallTime(new Date(now.getTime() - 7 * 86400000), zone), 'aria-describedby': 'bf-from-utc' });
  const to = h('input', { id: 'bf-to', type: 'datetime-local', step: 60, value: wallTime(now, zone), 'aria-describedby': 'bf-to-utc' });
  const fromUTC = h('p', { class: 'hint mono', id: 'bf-from-utc' });
  const toUTC = h('p', { class: 'hint mono', id: 'bf-to-utc' });
  const message = fieldMessage('bf-msg');
  const summary = h('div', { class: 'preview', 'aria-live': 'polite', 'data-testid': 'backfill-preview' });
  const submit = h('button', { type: 'submit', class: 'primary', disabled: true }, 'Create runs');
  const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close('cancel') }, 'Cancel');

  let range = null;    // the range the dry run was for
  let planned = 0;     // runs the real call would create
  let done = false;
  let sequence = 0;

  function read() {
    const start = zonedToUTC(from.value, zone);
    const end = zonedToUTC(to.value, zone);
    replace(fromUTC, start ? `= ${isoSeconds(start)}` : '');
    replace(toUTC, end ? `= ${isoSeconds(end)} (not included)` : '');
    if (!start) return { error: 'Choose when the range starts.' };
    if (!end) return { error: 'Choose when the range ends.' };
    if (end <= start) return { error: 'The end must be after the start.' };
    if (end > new Date()) return { error: 'The end must not be in the future: a backfill creates runs for times that have passed.' };
    return { from: isoSeconds(start), to: isoSeconds(end) };
  }

  const dryRun = debounce(async () => {
    const mine = ++sequence;
    const wanted = read();
    if (wanted.error) { setMessage(message, wanted.error); replace(summary); return; }
    try {
      const answer = await post(`/workflows/${workflow.id}/triggers/${trigger.id}/backfill?dry_run=true`, { from: wanted.from, to: wanted.to });
      if (mine !== sequence || done) return;
      range = wanted;
      planned = answer.count - answer.existing;
      setMessage(message, '');
      showDryRun(answer);
      submit.disabled = planned === 0;
      replace(submit, planned === 0 ? 'Nothing to create' : `Create ${planned} run${planned === 1 ? '' : 's'}`);
    } catch (error) {
      if (mine !== sequence || done) return;
      if (!(error instanceof ApiError)) throw error;
      setMessage(message, error.message);
      replace(summary);
    }
  }, 300);

  function changedRange() {
    if (done) return;
    range = null;
    submit.disabled = true;
    replace(submit, 'Create runs');
    sequence += 1;  // an answer for the old range is not shown
    const wanted = read();
    if (wanted.error) { setMessage(message, wanted.error); replace(summary); return; }
    setMessage(message, '');
    replace(summary, h('p', { class: 'muted' }, 'Counting…'));
    dryRun();
  }

  function showDryRun(answer) {
    const times = answer.times.slice(0, SHOWN_TIMES);
    replace(summary,
      h('p', { class: 'description', 'data-testid': 'backfill-count' },
        `${answer.count} time${answer.count === 1 ? '' : 's'} in this range; `,
        answer.existing ? `${answer.existing} already ha${answer.existing === 1 ? 's' : 've'} a run, ` : 'none has a run yet, ',
        `so ${planned} run${planned === 1 ? '' : 's'} would be created.`),
      times.length ? h('p', { class: 'label' }, `First ${times.length === 1 ? 'time' : `${times.length} times`} (${zone})`) : null,
      times.length ? h('ol', { class: 'next-runs' }, times.map((time) => h('li', null, h('time', { datetime: time }, formatTime(time, zone))))) : null,
      answer.count > times.length ? h('p', { class: 'muted small' }, `… and ${answer.count - times.length} more.`) : null);
  }

  from.addEventListener('input', changedRange);
  to.addEventListener('input', changedRange);

  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'bf-title' },
    h('form', { method: 'dialog', novalidate: true },
      h('div', { class: 'dialog-head' }, h('h2', { id: 'bf-title' }, `Backfill “${trigger.trigger_name}”`),
        h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close', onclick: () => dialog.close('cancel') }, icon('x'))),
      h('p', { class: 'hint' }, `Creates the runs this schedule (`, h('code', null, trigger.cron_expression), `) would have started in a past range, each with its scheduled time. Times that already have a run are left alone. Times are in ${zone}, the trigger’s zone.`),
      h('div', { class: 'row' },
        h('div', { class: 'field grow' }, h('label', { for: 'bf-from' }, `From (${zone})`), from, fromUTC),
        h('div', { class: 'field grow' }, h('label', { for: 'bf-to' }, `To (${zone})`), to, toUTC)),
      message,
      summary,
      h('div', { class: 'dialog-actions' }, cancel, submit)));

  dialog.querySelector('form').addEventListener('submit', async (event) => {
    event.preventDefault();
    if (done) { dialog.close('done'); return; }
    if (!range || planned === 0) return;
    submit.disabled = true;
    try {
      const answer = await post(`/workflows/${workflow.id}/triggers/${trigger.id}/backfill`, range);
      done = true;
      from.disabled = true;
      to.disabled = true;
      replace(summary, h('p', { class: 'description', 'data-testid': 'backfill-created' },
        `Created ${answer.created} run${answer.created === 1 ? '' : 's'}`,
        answer.existing ? ` (${answer.existing} time${answer.existing === 1 ? '' : 's'} already had one).` : '.'),
      h('p', null, h('a', { href: `#/executions?workflow_id=${workflow.id}`, onclick: () => dialog.close('done') }, 'See the runs →')));
      toast(`Backfill of “${trigger.trigger_name}”: ${answer.created} run${answer.created === 1 ? '' : 's'} created.`, 'success');
      cancel.hidden = true;
      replace(submit, 'Close');
      submit.disabled = false;
      submit.focus();
      changed();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      setMessage(message, error.message);
      submit.disabled = false;
    }
  });

  openDialog(dialog);
  from.focus();
  changedRange();
}
