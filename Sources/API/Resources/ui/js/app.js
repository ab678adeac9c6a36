// Entry point: sign-in, the hash router and the page lifecycle.
import { renderAlerts } from './alerts.js';
import { clearToken, onUnauthorized, setToken, takeTokenFromAddress, token } from './api.js';
import { errorState, toast } from './components.js';
import { h, openDialog } from './dom.js';
import { renderExecution, renderExecutions } from './executions.js';
import { renderGraph } from './graph.js';
import { renderWorkflow } from './workflow-detail.js';
import { renderWorkflows } from './workflows.js';

const routes = [
  [/^#\/workflows\/(\d+)$/, (main, m) => renderWorkflow(main, Number(m[1]))],
  [/^#\/workflows$/, (main) => renderWorkflows(main)],
  [/^#\/executions\/(\d+)$/, (main, m) => renderExecution(main, Number(m[1]))],
  [/^#\/executions(?:\?(.*))?$/, (main, m) => renderExecutions(main, new URLSearchParams(m[1] || ''))],
  [/^#\/graph$/, (main) => renderGraph(main)],
  [/^#\/alerts(?:\/(rules|channels|history))?(?:\?(.*))?$/, (main, m) => renderAlerts(main, m[1] || 'rules', new URLSearchParams(m[2] || ''))],
];

let cleanup = null;

async function route() {
  const main = document.getElementById('main');
  if (cleanup) { cleanup(); cleanup = null; }
  const hash = location.hash || '#/workflows';
  const found = routes.find(([pattern]) => pattern.test(hash));
  if (!found) { location.replace('#/workflows'); return; }
  const section = hash.split(/[/?]/)[1];
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (link.dataset.nav === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  try {
    const result = await found[1](main, hash.match(found[0]));
    if (typeof result === 'function') cleanup = result;
  } catch (error) {
    main.replaceChildren(errorState(error, route));
  }
}

// ---------------------------------------------------------------- sign-in

let pending = null;

/** Shows the token prompt (once, however many requests are waiting) and resolves when signed in. */
function askForToken(reason) {
  if (pending) return pending;
  const input = h('input', { id: 'token-input', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false', 'aria-describedby': 'token-help' });
  const dialog = h('dialog', { class: 'dialog small', 'aria-labelledby': 'sign-in-title' },
    h('form', { method: 'dialog' },
      h('h2', { id: 'sign-in-title' }, 'Sign in to FlowForge'),
      h('p', { id: 'token-help' }, reason || ['Paste the API token. ', h('code', null, 'flowforge dev'), ' prints it, and a link that signs you in directly; it is also in ', h('code', null, '.flowforge/api-token'), '.']),
      h('label', { for: 'token-input' }, 'API token'), input,
      h('div', { class: 'dialog-actions' }, h('button', { class: 'primary', value: 'ok' }, 'Sign in'))));
  dialog.addEventListener('cancel', (event) => event.preventDefault());  // nothing works without it
  pending = new Promise((resolve) => {
    dialog.querySelector('form').addEventListener('submit', () => setToken(input.value));
    openDialog(dialog).then(() => {
      pending = null;
      document.getElementById('sign-out').hidden = false;
      resolve();
    });
  });
  return pending;
}

function signOut() {
  clearToken();
  document.getElementById('sign-out').hidden = true;
  toast('Signed out. The token was removed from this tab.');
  route();
}

onUnauthorized(askForToken);
takeTokenFromAddress();
document.getElementById('sign-out').hidden = !token();
document.getElementById('sign-out').addEventListener('click', signOut);
window.addEventListener('hashchange', () => { takeTokenFromAddress(); route(); });
route();
