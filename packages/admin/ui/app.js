// The sagaflow admin page: plain browser JavaScript over the admin API.
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem('sagaflow-token') || '';
  let operator = sessionStorage.getItem('sagaflow-operator') || '';
  let cursor;
  let selected;

  // Every call carries the token; an operator's name (X-Operator) goes to the audit trail.
  const headers = () => ({
    authorization: `Bearer ${token}`,
    ...(operator ? { 'x-operator': operator } : {}),
  });
  const api = async (path, init = {}, options = {}) => {
    const response = await fetch(path, {
      ...init,
      headers: { ...headers(), ...(init.body ? { 'content-type': 'application/json' } : {}) },
    });
    // What an admin service may lack (a dead-letter index, lag sources) answers 404: not shown.
    if (options.optional && response.status === 404) return undefined;
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ? body.error.message : `HTTP ${response.status}`);
    return body;
  };
  const say = (text) => {
    $('message').textContent = text;
  };
  const el = (tag, attributes = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    for (const child of children) node.append(child);
    return node;
  };
  const time = (iso) => (iso ? new Date(iso).toLocaleString() : '');

  async function loadCounts() {
    const stats = await api('/sagas/stats');
    const counts = $('counts');
    counts.replaceChildren();
    for (const type of stats.types) {
      for (const [status, count] of Object.entries(type.counts)) {
        if (count > 0) counts.append(el('span', { class: `count status-${status}`, 'data-status': status }, `${type.type} · ${status}: ${count}`));
      }
    }
  }

  // How far behind the tracker (what this page shows) and the services' views are.
  async function loadLag() {
    const body = await api('/lag', {}, { optional: true });
    if (!body) return;
    $('lag').hidden = false;
    $('lag').replaceChildren(
      `Data as of ${time(body.at)}: `,
      ...body.readers.map((r) => el('span', { class: `reader reader-${r.kind}`, 'data-group': r.group, 'data-lag': String(r.lag) }, `${r.kind === 'view' ? `view ${r.name}` : r.kind} ${r.lag} behind`)),
    );
  }

  async function loadSagas(append) {
    const params = new URLSearchParams();
    for (const field of ['status', 'type', 'q']) if ($(field).value) params.set(field, $(field).value);
    if (append && cursor) params.set('cursor', cursor);
    const page = await api(`/sagas?${params}`);
    const body = $('sagas').tBodies[0];
    if (!append) body.replaceChildren();
    for (const saga of page.sagas) {
      const row = el(
        'tr',
        { 'data-saga': saga.sagaId },
        el('td', {}, saga.sagaId.slice(0, 8)),
        el('td', {}, saga.type || '?'),
        el('td', {}, saga.businessKey || ''),
        el(
          'td',
          {},
          el('span', { class: `status status-${saga.status}` }, saga.status),
          ...(saga.waiting ? [' ', el('span', { class: 'waiting', title: saga.waiting.reason }, 'waiting')] : []),
        ),
        el('td', {}, saga.currentStep || ''),
        el('td', {}, time(saga.startedAt)),
        el('td', {}, String(saga.events)),
      );
      if (saga.sagaId === selected) row.classList.add('selected');
      row.addEventListener('click', () => open(saga.sagaId));
      body.append(row);
    }
    cursor = page.next;
    $('more').hidden = !cursor;
  }

  const stepName = (s) => `${s.parallel ? `${s.parallel} ∥ ` : ''}${s.name}`;
  const ago = (ms) => {
    const minutes = Math.round(ms / 60000);
    if (minutes < 1) return `${Math.max(1, Math.round(ms / 1000))} s`;
    if (minutes < 120) return `${minutes} min`;
    const hours = Math.round(minutes / 60);
    return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} days`;
  };

  /**
   * What a saga that has not ended waits for, as the API works it out (`awaiting`: one entry per
   * step waiting, of kind answer, compensation, signal or sleep), with whether it is overdue.
   */
  const awaited = (view) =>
    (view.awaiting || []).map((a) => ({
      ...a,
      step: stepName({ name: a.step, parallel: a.parallel }),
      overdue: a.until !== undefined && Date.parse(a.until) <= Date.now(),
    }));

  function awaitedText(a) {
    const when = `${a.since ? `, since ${time(a.since)}` : ''}${a.until ? `, until ${time(a.until)}` : ', no deadline'}`;
    if (a.kind === 'sleep') return `Step ${a.step} sleeps${when}`;
    if (a.kind === 'signal') return `Step ${a.step} waits for the signal '${a.signal}'${when}`;
    const what = a.events ? a.events.join(' or ') : `any reply to its ${a.kind === 'compensation' ? 'compensation' : 'command'}`;
    const head = a.kind === 'compensation' ? `Compensation of ${a.step}` : `Step ${a.step}`;
    return `${head} waits for ${what} from ${a.participant}${when}`;
  }

  /** The awaited answer's label in the timeline. */
  function awaitedLabel(a) {
    if (a.kind === 'sleep') return 'sleeps';
    if (a.kind === 'signal') return `awaits the signal '${a.signal}'`;
    return `awaits ${a.events ? a.events.join(' | ') : 'a reply'}`;
  }

  function timelineSvg(view, next) {
    const participants = [...new Set([...view.timeline.map((e) => e.participant), ...next.map((a) => a.participant)])];
    const kind = (entry) => {
      if (entry.type === 'SagaCompensationRequested' || entry.type.startsWith('SagaMessage')) return 'control';
      if (entry.keyFields && typeof entry.keyFields.reason === 'string' && /Failed$|Rejected$/.test(entry.type)) return 'failure';
      if (/Released$|Refunded$|Cancelled$/.test(entry.type)) return 'compensation';
      return 'normal';
    };
    const columnWidth = 190;
    const rowHeight = 46;
    const width = Math.max(1, participants.length) * columnWidth + 280;
    const height = 50 + (view.timeline.length + next.length) * rowHeight;
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    svg.setAttribute('width', String(width));
    svg.setAttribute('height', String(height));
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', 'saga timeline');
    const add = (parent, tag, attributes, text) => {
      const node = document.createElementNS(ns, tag);
      for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
      if (text !== undefined) node.textContent = text;
      parent.append(node);
      return node;
    };
    const xOf = (participant) => participants.indexOf(participant) * columnWidth + columnWidth / 2;
    participants.forEach((participant) => {
      const x = xOf(participant);
      add(svg, 'text', { x, y: 20, 'text-anchor': 'middle', 'font-weight': 600, 'font-size': 13 }, participant);
      add(svg, 'line', { x1: x, y1: 30, x2: x, y2: height - 5, stroke: '#c6cad6', 'stroke-dasharray': '4 4' });
    });
    let previous;
    view.timeline.forEach((entry, i) => {
      const x = xOf(entry.participant);
      const y = 55 + i * rowHeight;
      if (previous) add(svg, 'line', { x1: previous.x, y1: previous.y, x2: x, y2: y, stroke: '#8a93a8', 'stroke-width': 1.5 });
      const group = add(svg, 'g', { class: `event ${kind(entry)}`, 'data-type': entry.type });
      add(group, 'circle', { cx: x, cy: y, r: 7, fill: '#3b6fd8' });
      add(group, 'text', { x: x + 12, y: y - 2, 'font-size': 12 }, entry.type);
      add(group, 'text', { x: x + 12, y: y + 12, 'font-size': 10, fill: '#5b6273' }, `${time(entry.occurredAt)}${entry.keyFields && entry.keyFields.reason ? ' · ' + entry.keyFields.reason : ''}`);
      previous = { x, y };
    });
    // What comes next: the awaited answers, dashed, with their deadline.
    next.forEach((a, i) => {
      const x = xOf(a.participant);
      const y = 55 + (view.timeline.length + i) * rowHeight;
      if (previous) add(svg, 'line', { x1: previous.x, y1: previous.y, x2: x, y2: y, stroke: '#b58ad6', 'stroke-width': 1.5, 'stroke-dasharray': '5 4' });
      const group = add(svg, 'g', { class: 'event awaited', 'data-awaits': a.events ? a.events.join('|') : '', 'data-step': a.step });
      add(group, 'circle', { cx: x, cy: y, r: 7 });
      add(group, 'text', { x: x + 12, y: y - 2, 'font-size': 12 }, awaitedLabel(a));
      add(group, 'text', { x: x + 12, y: y + 12, 'font-size': 10 }, a.until ? `${a.overdue ? 'overdue since' : 'until'} ${time(a.until)}` : 'no deadline');
    });
    return svg;
  }

  async function showSaga(id) {
    const view = await api(`/sagas/${encodeURIComponent(id)}`);
    selected = id;
    for (const row of $('sagas').tBodies[0].rows) row.classList.toggle('selected', row.getAttribute('data-saga') === id);
    $('detail').hidden = false;
    $('detail').setAttribute('data-saga', id);
    $('detail-title').textContent = `${view.type || 'saga'} ${view.businessKey || view.sagaId}`;
    $('detail-summary').replaceChildren(
      el('span', { class: `status status-${view.status}`, id: 'detail-status' }, view.status),
      ` started ${time(view.startedAt)}${view.endedAt ? `, ended ${time(view.endedAt)}` : ''}${view.error ? ` · ${view.error}` : ''}`,
    );
    const next = awaited(view);
    $('detail-awaiting').hidden = next.length === 0;
    $('detail-awaiting').replaceChildren(
      ...next.map((a) =>
        el('li', { 'data-step': a.step }, awaitedText(a), ...(a.overdue ? [' ', el('span', { class: 'overdue' }, `(overdue by ${ago(Date.now() - Date.parse(a.until))})`)] : [])),
      ),
    );
    // A message of the saga held back by a consumer (a workflow version not deployed, the registry down).
    const waiting = view.waiting;
    $('detail-waiting').hidden = !waiting;
    $('detail-waiting').textContent = waiting
      ? `Waiting since ${time(waiting.since)}: ${waiting.reason} (${waiting.messageType} held by ${waiting.group}, ${waiting.service})`
      : '';
    // A branch of a parallel step shows under its step's name: `hold ∥ reserve-stock`.
    $('steps').replaceChildren(...view.steps.map((s) => el('li', { class: `step-${s.status}`, 'data-step': s.name, ...(s.parallel ? { 'data-parallel': s.parallel } : {}) }, `${stepName(s)}: ${s.status}`)));
    $('timeline').replaceChildren(timelineSvg(view, next));
    // What an operator may do: compensate what has not ended, retry a failed workflow.
    $('act-compensate').hidden = !['running', 'stuck'].includes(view.status);
    $('act-retry').hidden = view.status !== 'failed';
    const trail = await api(`/audit?target=${encodeURIComponent(id)}&limit=20`).catch(() => ({ entries: [] }));
    $('detail-audit').replaceChildren(...(trail.entries.length === 0 ? [el('li', {}, 'none')] : trail.entries.map(auditItem)));
  }

  const auditItem = (e) =>
    el('li', { class: `outcome-${e.outcome || 'done'}`, 'data-action': e.action, 'data-target': e.target },
      `${time(e.at)} · ${e.by} · ${e.action} ${e.target} · ${e.outcome || 'done'}${e.details && e.details.reason ? ` · "${e.details.reason}"` : ''}${e.details && e.details.status ? ` (${e.details.status} ${e.details.code || ''})` : ''}`);

  async function loadAudit() {
    const trail = await api('/audit?limit=20');
    $('audit').replaceChildren(...(trail.entries.length === 0 ? [el('li', {}, 'no operator action yet')] : trail.entries.map(auditItem)));
  }

  async function loadDeadLetters() {
    const body = await api('/dead-letters?limit=20', {}, { optional: true });
    if (!body) return;
    $('dead-letters').hidden = false;
    $('dead-letters').querySelector('tbody').replaceChildren(
      ...body.deadLetters.map((d) => {
        const replay = el('button', { class: 'replay' }, d.replays && d.replays.length > 0 ? 'Replay again…' : 'Replay…');
        replay.addEventListener('click', () =>
          confirmAction({
            title: `Replay dead letter ${d.id}`,
            text: `The message goes back to ${d.group}, the consumer group that could not handle it (${d.reason}). Fix the cause first.`,
            path: `/dead-letters/${encodeURIComponent(d.id)}/replay`,
            done: `replayed ${d.id}`,
          }),
        );
        return el('tr', { 'data-letter': d.id }, el('td', {}, d.id), el('td', {}, d.sourceTopic), el('td', {}, d.eventType || '?'), el('td', {}, d.reason), el('td', {}, time(d.failedAt)), el('td', {}, replay));
      }),
    );
  }

  // An operator action: a confirmation that says what will happen, and a reason for the audit trail.
  let pending;
  function confirmAction(action) {
    pending = action;
    $('confirm-title').textContent = action.title;
    $('confirm-text').textContent = action.text;
    $('confirm-reason').value = '';
    $('confirm-error').textContent = '';
    $('confirm').showModal();
  }
  $('confirm-form').addEventListener('submit', (event) => {
    if (event.submitter && event.submitter.value !== 'ok') return;
    event.preventDefault();
    const action = pending;
    api(action.path, { method: 'POST', body: JSON.stringify({ reason: $('confirm-reason').value }) }).then(
      () => {
        $('confirm').close();
        say(action.done);
        return refresh();
      },
      (e) => {
        $('confirm-error').textContent = e.message;
      },
    );
  });
  // The saga's own actions: the button `act-<action>` posts to /sagas/<id>/<action>.
  const sagaActions = {
    compensate: {
      title: 'Compensate',
      text: 'The steps done are undone, last first, by the services that did them; the saga ends compensated. This cannot be taken back.',
      done: 'compensation requested for',
    },
    retry: { title: 'Retry', text: 'The workflow runs its failed step again, then goes on.', done: 'retry requested for' },
  };
  for (const [action, about] of Object.entries(sagaActions)) {
    $(`act-${action}`).addEventListener('click', () =>
      confirmAction({
        title: `${about.title} ${selected}`,
        text: about.text,
        path: `/sagas/${encodeURIComponent(selected)}/${action}`,
        done: `${about.done} ${selected}`,
      }),
    );
  }
  $('close-detail').addEventListener('click', () => {
    location.hash = '';
  });

  // A saga's detail has an address of its own (#saga=<id>), so it can be linked and reloaded.
  const open = (id) => {
    location.hash = `saga=${encodeURIComponent(id)}`;
  };
  function route() {
    const match = /^#saga=(.+)$/.exec(location.hash);
    if (!match) {
      selected = undefined;
      $('detail').hidden = true;
      for (const row of $('sagas').tBodies[0].rows) row.classList.remove('selected');
      return;
    }
    if (token) showSaga(decodeURIComponent(match[1])).catch((e) => say(e.message));
  }
  window.addEventListener('hashchange', route);

  async function refresh() {
    if (!token) return;
    try {
      await Promise.all([loadCounts(), loadLag(), loadAudit(), loadDeadLetters()]);
      if (selected) await showSaga(selected);
    } catch (error) {
      say(error.message);
    }
  }

  const connect = () =>
    Promise.all([loadCounts(), loadLag(), loadSagas(false), loadAudit(), loadDeadLetters()]).then(() => route());

  $('login').addEventListener('submit', (event) => {
    event.preventDefault();
    token = $('token').value;
    operator = $('operator').value.trim();
    sessionStorage.setItem('sagaflow-token', token);
    sessionStorage.setItem('sagaflow-operator', operator);
    connect().then(() => say('connected'), (e) => say(e.message));
  });
  $('filters').addEventListener('submit', (event) => {
    event.preventDefault();
    loadSagas(false).catch((e) => say(e.message));
  });
  $('more').addEventListener('click', () => loadSagas(true).catch((e) => say(e.message)));
  setInterval(refresh, 3000);
  if (token) connect().catch((e) => say(e.message));
})();
