// The public API, and nothing else. The token lives in session storage: it goes when the tab
// closes, and it never travels in a URL the server sees (the #token= fragment is not sent).

const TOKEN_KEY = 'flowforge.token';

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `the server answered ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

let askForToken = async () => { throw new ApiError(401, { error: 'not signed in' }); };

/** `prompt` shows the sign-in dialog and resolves once a token is stored. */
export function onUnauthorized(prompt) { askForToken = prompt; }

export function token() { return sessionStorage.getItem(TOKEN_KEY); }
export function setToken(value) { sessionStorage.setItem(TOKEN_KEY, value.trim()); }
export function clearToken() { sessionStorage.removeItem(TOKEN_KEY); }

/** Takes `#token=…` from the address (the link `flowforge dev` prints) and removes it from view. */
export function takeTokenFromAddress() {
  const match = /^#token=([^&]+)/.exec(location.hash);
  if (!match) return;
  setToken(decodeURIComponent(match[1]));
  history.replaceState(null, '', location.pathname + location.search + '#/workflows');
}

/** Sends a request; a 401 brings back the sign-in prompt and tries once more. */
export async function request(method, path, body, { retry = true } = {}) {
  if (!token()) await askForToken();
  const headers = { Authorization: `Bearer ${token()}`, Accept: 'application/json' };
  const init = { method, headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`/api${path}`, init);
  } catch {
    throw new ApiError(0, { error: 'FlowForge cannot be reached; is it still running?' });
  }
  if (response.status === 401 && retry) {
    clearToken();
    await askForToken('That token was not accepted. Paste the API token again.');
    return request(method, path, body, { retry: false });
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { error: text }; }
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body);
export const put = (path, body) => request('PUT', path, body);
export const patch = (path) => request('PATCH', path);
export const del = (path) => request('DELETE', path);

/** Query string from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/**
 * Every workflow, however many: `GET /api/workflows` answers at most 200 a page (with `total`),
 * so this follows `offset` until it has them all. For pickers that must offer each one.
 */
export async function allWorkflows() {
  const workflows = [];
  for (;;) {
    const answer = await get(`/workflows${query({ limit: 200, offset: workflows.length })}`);
    workflows.push(...answer.workflows);
    if (!answer.workflows.length || workflows.length >= answer.total) return workflows;
  }
}

let described = null;

/**
 * What this API documents, read once from its /openapi.yaml (no token needed), so the UI offers
 * a field or route only where the server takes it — e.g. `has('jitter_seconds')` — and works
 * against a server a version behind.
 */
export function apiFeatures() {
  if (!described) {
    described = fetch('/openapi.yaml', { cache: 'no-store' })
      .then((response) => (response.ok ? response.text() : ''))
      .catch(() => '')
      .then((text) => ({
        has: (name) => (name.startsWith('/') ? text.includes(`\n  ${name}:`) : new RegExp(`\\n\\s+${name}:`).test(text)),
      }));
  }
  return described;
}
