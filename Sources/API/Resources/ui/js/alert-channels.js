// Alert channels: the list (kind, where it sends, the rules that use it), the create/edit dialog
// by kind, a webhook channel's secret (shown once, after create or rotate), the Test button
// with what the receiver answered, and delete (refused with the rules named while rules use it).
import { ApiError, del, get, post, put } from './api.js';
import { emptyState, errorState, fieldMessage, loading, poll, setMessage, toast } from './components.js';
import { confirmDialog, formatDuration, h, openDialog, replace } from './dom.js';
import { CHANNEL_KINDS, channelTarget, deliveryBadge } from './alert-format.js';
import { icon } from './icons.js';
import { copyField } from './triggers.js';

export async function renderChannels(container) {
  const body = h('div', { class: 'card table-card' }, loading('Loading channels…'));
  // What the last action was refused for (a delete while rules use the channel): stays until the next one.
  const problem = h('div', { class: 'error-state', role: 'alert', 'data-testid': 'channels-error', hidden: true });
  const add = h('button', { type: 'button', class: 'primary', onclick: () => { report(''); openChannelDialog(null, refresh); } }, icon('plus'), 'New channel');
  replace(container,
    h('section', { 'aria-labelledby': 'channels-title' },
      h('div', { class: 'section-head' }, h('h2', { id: 'channels-title' }, 'Channels'), add),
      problem, body));

  function report(text) {
    problem.hidden = !text;
    replace(problem, text ? h('p', null, text) : '');
  }

  let shown = '';
  async function refresh() {
    let channels;
    try {
      channels = (await get('/alert-channels')).alert_channels;
    } catch (error) {
      replace(body, errorState(error, refresh));
      shown = '';
      throw error;
    }
    const signature = JSON.stringify(channels);
    if (signature === shown) return;
    shown = signature;
    const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.focusKey : null;
    if (!channels.length) {
      replace(body, emptyState('No channels yet',
        'A channel is where alerts go: a webhook of yours, a Slack incoming webhook, or email through your SMTP server.',
        h('button', { type: 'button', class: 'primary', onclick: () => openChannelDialog(null, refresh) }, icon('plus'), 'Add a channel')));
      return;
    }
    replace(body, h('div', { class: 'table-scroll' }, h('table', { class: 'table channels-table' },
      h('thead', null, h('tr', null, ['Name', 'Kind', 'Sends to', 'Used by', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, channels.map((channel) => channelRow(channel, refresh, report))))));
    if (focused) { const again = body.querySelector(`[data-focus-key="${focused}"]`); if (again) again.focus(); }
  }

  return poll(refresh, 10000);
}

function channelRow(channel, changed, report) {
  const test = h('button', {
    type: 'button', class: 'secondary small-button', 'aria-label': `Test channel ${channel.name}`, 'data-focus-key': `test-${channel.id}`,
    onclick: () => { report(''); testChannel(channel); },
  }, icon('zap'), 'Test');
  const rotate = channel.kind === 'webhook' ? h('button', {
    type: 'button', class: 'icon-button', 'aria-label': `Rotate the secret of ${channel.name}`, title: 'Rotate secret', 'data-focus-key': `rotate-${channel.id}`,
    onclick: async () => {
      report('');
      if (!(await confirmDialog(`Rotate the secret of “${channel.name}”?`,
        'A new secret is made and shown once; alerts are signed with it from now on and the current one stops working at once: update your receiver right away.', 'Rotate secret'))) return;
      try {
        showChannelSecret(await post(`/alert-channels/${channel.id}/rotate-secret`, {}), true);
      } catch (error) {
        toast(error.message, 'error');
      }
      changed();
    },
  }, icon('rotate')) : h('span', { class: 'icon-spacer', 'aria-hidden': 'true' });  // keeps the icons in line
  const edit = h('button', {
    type: 'button', class: 'icon-button', 'aria-label': `Edit channel ${channel.name}`, title: 'Edit channel', 'data-focus-key': `edit-channel-${channel.id}`,
    onclick: async () => {
      report('');
      try {
        openChannelDialog(await get(`/alert-channels/${channel.id}`), changed);
      } catch (error) {
        toast(error.message, 'error');
      }
    },
  }, icon('edit'));
  const remove = h('button', {
    type: 'button', class: 'icon-button danger-text', 'aria-label': `Delete channel ${channel.name}`, title: 'Delete channel',
    onclick: async () => {
      report('');
      if (!(await confirmDialog(`Delete channel “${channel.name}”?`, 'Alerts already sent stay in the history. A channel that rules still use cannot be deleted.'))) return;
      try {
        await del(`/alert-channels/${channel.id}`);
        toast(`Channel “${channel.name}” deleted.`, 'success');
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        report(error.message);  // a 409 names the rules that use it
      }
      changed();
    },
  }, icon('trash'));
  const rules = channel.rules || [];
  return h('tr', { 'data-channel-id': channel.id },
    h('td', null, h('span', { class: 'strong' }, channel.name)),
    h('td', null, h('span', { class: `badge kind-${channel.kind}` }, channel.kind)),
    h('td', null, channelTarget(channel)),
    h('td', null, rules.length ? rules.map((r, index) => [index ? ', ' : null, r.name]) : h('span', { class: 'muted' }, 'No rule')),
    h('td', { class: 'row-actions' }, test, rotate, edit, remove));
}

// ---------------------------------------------------------------- the test button

/** Sends a test message now and shows what the receiver answered. */
async function testChannel(channel) {
  const result = h('div', { 'data-testid': 'channel-test-result', 'aria-live': 'polite' }, loading(`Sending a test message to ${channel.name}…`));
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'test-title' },
    h('form', { method: 'dialog' },
      h('h2', { id: 'test-title' }, `Test of “${channel.name}”`),
      h('p', { class: 'hint' }, 'A message marked as a test, sent now. It is not recorded in the alert history.'),
      result,
      h('div', { class: 'dialog-actions' }, h('button', { class: 'primary', value: 'ok' }, 'Close'))));
  openDialog(dialog);
  try {
    const answer = await post(`/alert-channels/${channel.id}/test`, {});
    replace(result, testResult(answer));
  } catch (error) {
    replace(result, errorState(error));
  }
}

function testResult(answer) {
  return [
    h('dl', { class: 'facts' },
      h('div', null, h('dt', null, 'Outcome'), h('dd', { 'data-testid': 'test-outcome' }, answer.delivered
        ? deliveryBadge('delivered') : h('span', { class: 'badge delivery-failed', 'data-status': 'failed' }, 'not delivered'))),
      h('div', null, h('dt', null, 'Status code'), h('dd', { 'data-testid': 'test-status-code' }, answer.status_code === null || answer.status_code === undefined ? '—' : String(answer.status_code))),
      h('div', null, h('dt', null, 'Took'), h('dd', null, formatDuration(answer.duration_ms)))),
    answer.error ? h('div', { class: 'error-state', 'data-testid': 'test-error' }, h('p', null, answer.error)) : null,
    answer.response ? [h('p', { class: 'label' }, 'The receiver answered'), h('pre', { class: 'json', 'data-testid': 'test-response' }, answer.response)] : null,
  ];
}

// ---------------------------------------------------------------- the secret

/** A webhook channel's secret is answered once, on create and rotate: show it where it can be copied. */
export function showChannelSecret(channel, rotated = false) {
  const status = h('p', { class: 'field-message hint', role: 'status', 'aria-live': 'polite' });
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'channel-secret-title' },
    h('form', { method: 'dialog' },
      h('h2', { id: 'channel-secret-title' }, rotated ? 'New signing secret' : 'Webhook channel ready'),
      h('p', null, 'Each alert is POSTed as JSON with an ', h('code', null, 'X-FlowForge-Signature: t=…,v1=…'),
        ' header: an HMAC-SHA256 of “t.body” with this secret. It is shown only now: copy it to your receiver.'),
      copyField('channel-secret', 'Secret', channel.secret, status),
      status,
      h('div', { class: 'dialog-actions' }, h('button', { class: 'primary', value: 'ok' }, 'I copied it'))));
  return openDialog(dialog);
}

// ---------------------------------------------------------------- create or edit

const SECURITY = [
  { id: 'starttls', label: 'STARTTLS (required)', port: 587 },
  { id: 'tls', label: 'TLS from the start', port: 465 },
  { id: 'none', label: 'None (plain text)', port: 25 },
];
const FIELDS = ['name', 'kind', 'url', 'host', 'port', 'security', 'username', 'password', 'from', 'to', 'ca_certificate', 'form'];

/**
 * The channel dialog; given `existing` it edits that channel (PUT; its kind cannot change). A
 * Slack URL and an email password are secrets the API never answers: blank keeps them.
 */
export function openChannelDialog(existing, changed) {
  let kind = existing ? existing.kind : 'webhook';
  const messages = Object.fromEntries(FIELDS.map((f) => [f, fieldMessage(`ch-${f}-msg`)]));
  const input = (field, attrs = {}) => h('input', { id: `ch-${field}`, autocomplete: 'off', spellcheck: 'false', 'aria-describedby': `ch-${field}-msg`, ...attrs });
  const field = (name, label, control, hint) => h('div', { class: 'field grow' }, h('label', { for: control.id }, label), control,
    hint ? h('p', { class: 'hint' }, hint) : null, messages[name]);

  const name = input('name', { maxlength: 200, value: existing ? existing.name : '', placeholder: 'e.g. ops' });
  const webhookURL = input('url', { type: 'url', class: 'mono', value: existing && existing.kind === 'webhook' ? existing.url : '', placeholder: 'https://example.com/flowforge-alerts' });
  const slackURL = input('slack-url', { type: 'url', class: 'mono', placeholder: existing && existing.kind === 'slack' ? `Blank keeps ${existing.url || existing.slack_url_hint || 'the current URL'}` : 'https://hooks.slack.com/services/…', 'aria-describedby': 'ch-url-msg' });
  const host = input('host', { value: existing ? existing.host || '' : '', placeholder: 'smtp.example.com' });
  const security = h('select', { id: 'ch-security', 'aria-describedby': 'ch-security-msg' }, SECURITY.map((s) => h('option', { value: s.id }, s.label)));
  security.value = (existing && existing.security) || 'starttls';
  // Blank: the security's usual port, which follows a change of security (as the API keeps it).
  const usualPort = (id) => SECURITY.find((s) => s.id === id).port;
  const customPort = existing && existing.port && existing.port !== usualPort(existing.security || 'starttls') ? existing.port : '';
  const port = input('port', { type: 'number', min: 1, max: 65535, step: 1, inputmode: 'numeric', value: customPort });
  const portPlaceholder = () => port.setAttribute('placeholder', String(usualPort(security.value)));
  security.addEventListener('change', portPlaceholder);
  portPlaceholder();
  const username = input('username', { value: existing ? existing.username || '' : '' });
  const password = input('password', { type: 'password', autocomplete: 'new-password',
    placeholder: existing && existing.password_set ? 'Blank keeps the current password' : '' });
  const from = input('from', { value: existing ? existing.from || '' : '', placeholder: 'flowforge@example.com' });
  const to = h('textarea', { id: 'ch-to', rows: 3, spellcheck: 'false', 'aria-describedby': 'ch-to-help ch-to-msg', placeholder: 'oncall@example.com, data-team@example.com' });
  to.value = existing && existing.to ? existing.to.join('\n') : '';
  const ca = h('textarea', { id: 'ch-ca_certificate', class: 'code mono', rows: 5, spellcheck: 'false', 'aria-describedby': 'ch-ca_certificate-msg', placeholder: '-----BEGIN CERTIFICATE-----' });
  ca.value = existing && existing.ca_certificate ? existing.ca_certificate : '';

  // Built at each choice: the URL's message line moves to the form shown.
  const forms = {
    webhook: () => h('div', null, field('url', 'URL', webhookURL, 'FlowForge POSTs each alert here as signed JSON, with an Idempotency-Key header so repeats can be dropped.')),
    slack: () => h('div', null, field('url', 'Incoming-webhook URL (https)', slackURL,
      existing ? 'The URL is a secret: it is stored sealed and never shown in full. Leave blank to keep it.' : 'The URL is a secret: it is stored sealed and never shown in full.')),
    email: () => h('div', null,
      h('div', { class: 'row smtp-row' }, field('host', 'SMTP host', host), field('port', 'Port', port), field('security', 'Security', security)),
      h('div', { class: 'row' }, field('username', 'Username (optional)', username), field('password', 'Password', password)),
      field('from', 'From', from),
      h('div', { class: 'field' }, h('label', { for: 'ch-to' }, 'To'), to,
        h('p', { class: 'hint', id: 'ch-to-help' }, 'One address per line, or separated by commas; at most 50.'), messages.to),
      h('details', { class: 'advanced', open: Boolean(ca.value) }, h('summary', null, 'Custom CA certificate (optional)'),
        h('div', { class: 'field' }, h('label', { for: ca.id }, 'CA certificate (PEM), for a server whose certificate your system does not trust'), ca, messages.ca_certificate))),
  };
  const slot = h('div', { class: 'channel-slot' });
  const cards = CHANNEL_KINDS.map((k) => h('button', {
    type: 'button', role: 'radio', class: 'type-card', 'aria-checked': String(k.kind === kind), 'data-channel-kind': k.kind,
    disabled: Boolean(existing && k.kind !== existing.kind), onclick: () => choose(k.kind),
  }, h('span', { class: 'type-title' }, k.label), h('span', { class: 'type-text' }, k.text)));
  function choose(next) {
    kind = next;
    for (const card of cards) card.setAttribute('aria-checked', String(card.dataset.channelKind === kind));
    replace(slot, forms[kind]());
    for (const message of Object.values(messages)) setMessage(message, '');
  }

  function showError(text) {
    if (/already exists/.test(text)) { setMessage(messages.name, text); return; }
    const named = /^([a-z_]+)\b/.exec(text);
    setMessage(named && messages[named[1]] && named[1] !== 'form' ? messages[named[1]] : messages.form, text);
  }

  function body() {
    const result = { name: name.value.trim(), kind };
    if (kind === 'webhook') result.url = webhookURL.value.trim();
    if (kind === 'slack' && (slackURL.value.trim() || !existing)) result.url = slackURL.value.trim();
    if (kind === 'email') {
      Object.assign(result, {
        host: host.value.trim(), security: security.value, from: from.value.trim(),
        to: to.value.split(/[,\n]/).map((a) => a.trim()).filter(Boolean),
        username: username.value.trim() || null, ca_certificate: ca.value.trim() || null,
      });
      const portText = String(port.value).trim();
      if (portText) result.port = Number(portText);
      else if (existing) result.port = usualPort(security.value);  // a custom port cleared goes back to the usual one
      if (password.value) result.password = password.value;
      else if (!result.username) result.password = null;  // no user, no password; blank with a user keeps it
    }
    return result;
  }

  const submit = h('button', { type: 'submit', class: 'primary' }, existing ? 'Save changes' : 'Create channel');
  const dialog = h('dialog', { class: 'dialog wide', 'aria-labelledby': 'channel-title' },
    h('form', { method: 'dialog', novalidate: true },
      h('div', { class: 'dialog-head' }, h('h2', { id: 'channel-title' }, existing ? `Edit channel “${existing.name}”` : 'New alert channel'),
        h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close', onclick: () => dialog.close('cancel') }, icon('x'))),
      h('div', { class: 'type-cards', role: 'radiogroup', 'aria-label': 'Channel kind' }, cards),
      messages.kind,
      existing ? h('p', { class: 'hint' }, 'A channel’s kind cannot change: add a new channel for another kind.') : null,
      h('div', { class: 'field' }, h('label', { for: 'ch-name' }, 'Name'), name, messages.name),
      slot,
      messages.form,
      h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close('cancel') }, 'Cancel'), submit)));

  dialog.querySelector('form').addEventListener('submit', async (event) => {
    event.preventDefault();
    for (const message of Object.values(messages)) setMessage(message, '');
    const change = body();
    if (!change.name) { setMessage(messages.name, 'name is required'); name.focus(); return; }
    submit.disabled = true;
    try {
      const answer = existing ? await put(`/alert-channels/${existing.id}`, change) : await post('/alert-channels', change);
      dialog.close('saved');
      toast(existing ? `Channel “${answer.name}” saved.` : `Channel “${answer.name}” created.`, 'success');
      if (answer.secret) showChannelSecret(answer);
      changed(answer);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showError(error.message);
      const shownAt = dialog.querySelector('.field-message.error');
      if (shownAt) shownAt.scrollIntoView({ block: 'nearest' });
      submit.disabled = false;
    }
  });

  choose(kind);
  openDialog(dialog);
  name.focus();
}
