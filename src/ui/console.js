// sessiond's web console: the session list, live through /v1/events, and a session's live log.
// No framework and no build step. The token lives in sessionStorage and goes only into the
// Authorization header (streams are read with fetch, not EventSource, so it is never in a URL).
const TOKEN_KEY = 'sessiond.token';
const RECONNECT_MS = 2000;
const $ = (selector) => document.querySelector(selector);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  canWrite: false,
  sessions: new Map(),
  /** Aborts whatever the current view streams. */
  view: null,
  /** Aborts the list's event stream. */
  events: null,
};

class HttpError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function api(path, options = {}) {
  const headers = { authorization: `Bearer ${state.token}`, ...(options.body ? { 'content-type': 'application/json' } : {}) };
  const res = await fetch(path, { ...options, headers: { ...headers, ...options.headers } });
  const text = await res.text();
  const body = text ? JSON.parse(text) : null;
  if (!res.ok) throw new HttpError(res.status, body);
  return body;
}

/** Server-Sent Events over fetch: yields { event, data, id } and keeps `cursor.id` current. */
async function* readEvents(path, cursor, signal) {
  const headers = { authorization: `Bearer ${state.token}`, accept: 'text/event-stream' };
  if (cursor.id) headers['last-event-id'] = cursor.id;
  const res = await fetch(path, { headers, signal });
  if (!res.ok) throw new HttpError(res.status, await res.json().catch(() => null));
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let event = { event: 'message', data: [] };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    for (let end = buffer.indexOf('\n'); end >= 0; end = buffer.indexOf('\n')) {
      const line = buffer.slice(0, end).replace(/\r$/, '');
      buffer = buffer.slice(end + 1);
      if (line === '') {
        if (event.data.length > 0) yield { event: event.event, data: event.data.join('\n'), id: event.id };
        event = { event: 'message', data: [] };
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') event.data.push(text);
      else if (field === 'event') event.event = text;
      else if (field === 'id') cursor.id = event.id = text;
    }
  }
}

/** Follows a stream until `signal` aborts or `onEvent` returns 'done'; reconnects after a drop. */
async function follow(path, cursor, signal, onEvent, onLive) {
  while (!signal.aborted) {
    try {
      onLive?.(true);
      for await (const message of readEvents(path, cursor, signal)) {
        if (onEvent(message) === 'done') return;
      }
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof HttpError && err.status < 500) throw err;
    } finally {
      onLive?.(false);
    }
    // The stream ended without saying it is done (the service restarted): resume where we were.
    await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
  }
}

// ---------------------------------------------------------------------------------------------
// Small rendering helpers

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === 'class') node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

const badge = (status) => el('span', { class: `badge ${status}` }, status);

function duration(session) {
  if (session.status === 'queued') return '';
  const end = session.stopped_at ? Date.parse(session.stopped_at) : Date.now();
  const seconds = Math.max(0, Math.round((end - Date.parse(session.started_at)) / 1000));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s}s` : `${s}s`;
}

const when = (time) => (time ? new Date(time).toLocaleString() : '');

function show(id) {
  for (const section of ['#login', '#list-view', '#session-view']) $(section).hidden = section !== id;
}

function setLive(on) {
  $('#live').textContent = on ? 'live' : 'offline';
  $('#live').classList.toggle('on', on);
}

// ---------------------------------------------------------------------------------------------
// Sign-in and scope

async function signIn(token) {
  state.token = token;
  try {
    await api('/v1/sessions?limit=1');
  } catch (err) {
    state.token = null;
    throw err;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  // A write token is told apart by what a write says: a read token is refused (403) before the
  // empty body is looked at (400). Nothing is started either way.
  state.canWrite = await api('/v1/sessions', { method: 'POST', body: '{}' }).then(
    () => true,
    (err) => err.status !== 403,
  );
  $('#scope').textContent = state.canWrite ? 'write token' : 'read token';
  $('#forget').hidden = false;
}

function forget() {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  state.events?.abort();
  state.view?.abort();
  location.hash = '#/';
  route();
}

// ---------------------------------------------------------------------------------------------
// The list

function filters() {
  const status = $('#filter-status').value;
  const label = $('#filter-label').value.trim();
  return { status, label: /^[^=]+=.*$/.test(label) ? label : '' };
}

function matches(session) {
  const { status, label } = filters();
  if (status && session.status !== status) return false;
  if (label) {
    const at = label.indexOf('=');
    if (session.labels?.[label.slice(0, at)] !== label.slice(at + 1)) return false;
  }
  return true;
}

function renderList() {
  const rows = [...state.sessions.values()].filter(matches).sort((a, b) => (a.started_at < b.started_at ? 1 : -1));
  const body = $('#sessions tbody');
  body.replaceChildren(
    ...rows.map((s) => {
      const row = el(
        'tr',
        { 'data-id': s.id },
        el('td', {}, badge(s.status)),
        el('td', {}, el('a', { href: `#/s/${encodeURIComponent(s.id)}` }, s.name)),
        el('td', {}, ...Object.entries(s.labels ?? {}).map(([k, v]) => el('span', { class: 'label' }, `${k}=${v}`))),
        el('td', {}, when(s.started_at)),
        el('td', { class: 'duration' }, duration(s)),
        el('td', {}, s.exit_code !== null ? String(s.exit_code) : s.exit_signal ?? ''),
      );
      row.addEventListener('click', () => (location.hash = `#/s/${encodeURIComponent(s.id)}`));
      return row;
    }),
  );
  $('#empty').hidden = rows.length > 0;
}

async function showList() {
  show('#list-view');
  $('#show-start').hidden = !state.canWrite;
  const { status, label } = filters();
  const query = new URLSearchParams({ limit: '500' });
  if (status) query.set('status', status);
  if (label) query.set('label', label);
  const page = await api(`/v1/sessions?${query}`);
  for (const s of page.items) state.sessions.set(s.id, s);
  renderList();
  if (state.events) return; // already following
  const controller = new AbortController();
  state.events = controller;
  // Live from now on; after a drop, resumes from the last event seen.
  follow('/v1/events', {}, controller.signal, ({ data }) => {
    const { type, session } = JSON.parse(data);
    if (type === 'session.deleted') state.sessions.delete(session.id);
    else state.sessions.set(session.id, session);
    if (!$('#list-view').hidden) renderList();
  }, setLive).catch((err) => console.warn('events stream stopped:', err.message));
}

// ---------------------------------------------------------------------------------------------
// One session

function renderFacts(s) {
  $('#s-name').replaceChildren(s.name, ' ', badge(s.status));
  const facts = [
    ['id', s.id],
    ['command', [s.command, ...s.args].join(' ')],
    ['working directory', s.working_directory],
    ['started', when(s.started_at)],
    ['duration', duration(s)],
    ['exit', s.exit_code !== null ? String(s.exit_code) : s.exit_signal ?? '—'],
    ['why', s.status_reason ?? s.stop_reason ?? '—'],
    ['labels', Object.entries(s.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(', ') || '—'],
  ];
  $('#s-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  const live = ['queued', 'starting', 'running'].includes(s.status);
  $('#s-stop').hidden = !(state.canWrite && live);
  const agent = s.agent;
  $('#s-agent').hidden = !agent;
  if (agent) {
    const parts = [
      agent.model && `model ${agent.model}`,
      agent.num_turns !== null && agent.num_turns !== undefined && `${agent.num_turns} turns`,
      agent.total_cost_usd !== null && agent.total_cost_usd !== undefined && `$${Number(agent.total_cost_usd).toFixed(4)}`,
      agent.is_error ? 'error' : null,
    ].filter(Boolean);
    $('#s-agent').replaceChildren(el('strong', {}, 'Agent '), parts.join(' · '), ...(agent.result ? [el('p', {}, agent.result)] : []));
  }
}

function appendLines(stream, data) {
  const log = $('#s-log');
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  for (const line of data.split('\n')) {
    const match = /^(\d{4}-\d\d-\d\dT[\d:.]+Z) (.*)$/s.exec(line);
    const span = el('span', { class: stream }, ...(match ? [el('span', { class: 'ts' }, `${match[1]} `), match[2]] : [line]));
    log.append(span, '\n');
  }
  if (atBottom) log.scrollTop = log.scrollHeight;
}

async function showSession(id) {
  show('#session-view');
  $('#s-log').replaceChildren();
  $('#s-stream').textContent = '';
  let session = await api(`/v1/sessions/${encodeURIComponent(id)}`);
  renderFacts(session);
  const controller = new AbortController();
  state.view = controller;
  const timer = setInterval(() => renderFacts(session), 1000);
  controller.signal.addEventListener('abort', () => clearInterval(timer));
  const query = new URLSearchParams({ from: 'start' });
  if ($('#s-timestamps').checked) query.set('timestamps', 'true');
  try {
    await follow(`/v1/sessions/${encodeURIComponent(id)}/logs/stream?${query}`, {}, controller.signal, ({ event, data }) => {
      if (event === 'stdout' || event === 'stderr') appendLines(event, data);
      else if (event === 'status' || event === 'end') {
        session = JSON.parse(data);
        renderFacts(session);
        if (event === 'end') {
          $('#s-stream').textContent = 'the session has ended';
          return 'done';
        }
      } else if (event === 'truncated') {
        $('#s-log').append(el('span', { class: 'note' }, `[the log was truncated: ${data}]`), '\n');
      }
      return undefined;
    });
  } catch (err) {
    $('#s-stream').textContent = err.status === 400 && query.has('timestamps') ? 'this server does not give timestamps' : `log stream: ${err.message}`;
  } finally {
    clearInterval(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Routing and wiring

async function route() {
  state.view?.abort();
  state.view = null;
  if (!state.token) {
    show('#login');
    return;
  }
  const match = /^#\/s\/(.+)$/.exec(location.hash);
  try {
    if (match) await showSession(decodeURIComponent(match[1]));
    else await showList();
  } catch (err) {
    if (err.status === 401) forget();
    else console.warn(err.message);
  }
}

function wire() {
  $('#token-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    $('#login-error').hidden = true;
    try {
      await signIn($('#token').value.trim());
      $('#token').value = '';
      route();
    } catch (err) {
      $('#login-error').textContent = err.status === 401 ? 'That token is not valid.' : err.message;
      $('#login-error').hidden = false;
    }
  });
  $('#forget').addEventListener('click', forget);
  $('#filter-status').addEventListener('change', () => {
    state.sessions.clear();
    showList();
  });
  $('#filter-label').addEventListener('change', () => {
    state.sessions.clear();
    showList();
  });
  $('#show-start').addEventListener('click', () => ($('#start-form').hidden = !$('#start-form').hidden));
  $('#start-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const body = { name: form.get('name'), working_directory: form.get('working_directory') };
    if (form.get('command')) body.command = form.get('command');
    const args = String(form.get('args') ?? '').split('\n').filter((a) => a !== '');
    if (args.length > 0) body.args = args;
    if (form.get('prompt')) body.prompt = form.get('prompt');
    if (form.get('queue')) body.queue = true;
    try {
      const session = await api('/v1/sessions', { method: 'POST', body: JSON.stringify(body) });
      $('#start-error').textContent = '';
      location.hash = `#/s/${encodeURIComponent(session.id)}`;
    } catch (err) {
      $('#start-error').textContent = err.message;
    }
  });
  $('#s-stop').addEventListener('click', async () => {
    const id = /^#\/s\/(.+)$/.exec(location.hash)?.[1];
    if (id) await api(`/v1/sessions/${id}/stop`, { method: 'POST' }).catch((err) => ($('#s-stream').textContent = err.message));
  });
  $('#s-timestamps').addEventListener('change', route);
  window.addEventListener('hashchange', route);
  setInterval(() => {
    if (!$('#list-view').hidden) for (const cell of document.querySelectorAll('#sessions .duration')) {
      const s = state.sessions.get(cell.parentElement.dataset.id);
      if (s) cell.textContent = duration(s);
    }
  }, 1000);
}

async function start() {
  wire();
  if (state.token) {
    try {
      await signIn(state.token);
    } catch {
      state.token = null;
    }
  }
  route();
}

start();
