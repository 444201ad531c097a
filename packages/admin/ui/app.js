// The sagaflow admin page: plain browser JavaScript over the admin API.
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem('sagaflow-token') || '';
  let cursor;
  let selected;

  const api = async (path) => {
    const response = await fetch(path, { headers: { authorization: `Bearer ${token}` } });
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
    const response = await fetch('/lag', { headers: { authorization: `Bearer ${token}` } });
    if (response.status === 404) return;
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ? body.error.message : `HTTP ${response.status}`);
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
      row.addEventListener('click', () => showSaga(saga.sagaId).catch((e) => say(e.message)));
      body.append(row);
    }
    cursor = page.next;
    $('more').hidden = !cursor;
  }

  function timelineSvg(view) {
    const participants = [...new Set(view.timeline.map((e) => e.participant))];
    const roles = {};
    for (const step of view.steps) roles[step.name] = step.status;
    const kind = (entry) => {
      if (entry.type === 'SagaCompensationRequested' || entry.type.startsWith('SagaMessage')) return 'control';
      if (entry.keyFields && typeof entry.keyFields.reason === 'string' && /Failed$|Rejected$/.test(entry.type)) return 'failure';
      if (/Released$|Refunded$|Cancelled$/.test(entry.type)) return 'compensation';
      return 'normal';
    };
    const columnWidth = 190;
    const rowHeight = 46;
    const width = Math.max(1, participants.length) * columnWidth + 130;
    const height = 50 + view.timeline.length * rowHeight;
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
    participants.forEach((participant, i) => {
      const x = i * columnWidth + columnWidth / 2;
      add(svg, 'text', { x, y: 20, 'text-anchor': 'middle', 'font-weight': 600, 'font-size': 13 }, participant);
      add(svg, 'line', { x1: x, y1: 30, x2: x, y2: height - 5, stroke: '#c6cad6', 'stroke-dasharray': '4 4' });
    });
    let previous;
    view.timeline.forEach((entry, i) => {
      const x = participants.indexOf(entry.participant) * columnWidth + columnWidth / 2;
      const y = 55 + i * rowHeight;
      if (previous) add(svg, 'line', { x1: previous.x, y1: previous.y, x2: x, y2: y, stroke: '#8a93a8', 'stroke-width': 1.5 });
      const group = add(svg, 'g', { class: `event ${kind(entry)}`, 'data-type': entry.type });
      add(group, 'circle', { cx: x, cy: y, r: 7, fill: '#3b6fd8' });
      add(group, 'text', { x: x + 12, y: y - 2, 'font-size': 12 }, entry.type);
      add(group, 'text', { x: x + 12, y: y + 12, 'font-size': 10, fill: '#5b6273' }, `${time(entry.occurredAt)}${entry.keyFields && entry.keyFields.reason ? ' · ' + entry.keyFields.reason : ''}`);
      previous = { x, y };
    });
    return svg;
  }

  async function showSaga(id) {
    const view = await api(`/sagas/${encodeURIComponent(id)}`);
    selected = id;
    $('detail').hidden = false;
    $('detail-title').textContent = `${view.type || 'saga'} ${view.businessKey || view.sagaId}`;
    $('detail-summary').replaceChildren(
      el('span', { class: `status status-${view.status}`, id: 'detail-status' }, view.status),
      ` started ${time(view.startedAt)}${view.endedAt ? `, ended ${time(view.endedAt)}` : ''}${view.error ? ` · ${view.error}` : ''}`,
    );
    // A message of the saga held back by a consumer (a workflow version not deployed, the registry down).
    const waiting = view.waiting;
    $('detail-waiting').hidden = !waiting;
    $('detail-waiting').textContent = waiting
      ? `Waiting since ${time(waiting.since)}: ${waiting.reason} (${waiting.messageType} held by ${waiting.group}, ${waiting.service})`
      : '';
    // A branch of a parallel step shows under its step's name: `hold ∥ reserve-stock`.
    $('steps').replaceChildren(...view.steps.map((s) => el('li', { class: `step-${s.status}`, 'data-step': s.name, ...(s.parallel ? { 'data-parallel': s.parallel } : {}) }, `${s.parallel ? `${s.parallel} ∥ ` : ''}${s.name}: ${s.status}`)));
    $('timeline').replaceChildren(timelineSvg(view));
  }

  async function refresh() {
    if (!token) return;
    try {
      await Promise.all([loadCounts(), loadLag()]);
      if (selected) await showSaga(selected);
    } catch (error) {
      say(error.message);
    }
  }

  $('login').addEventListener('submit', (event) => {
    event.preventDefault();
    token = $('token').value;
    sessionStorage.setItem('sagaflow-token', token);
    Promise.all([loadCounts(), loadLag(), loadSagas(false)]).then(() => say('connected'), (e) => say(e.message));
  });
  $('filters').addEventListener('submit', (event) => {
    event.preventDefault();
    loadSagas(false).catch((e) => say(e.message));
  });
  $('more').addEventListener('click', () => loadSagas(true).catch((e) => say(e.message)));
  setInterval(refresh, 3000);
  if (token) Promise.all([loadCounts(), loadLag(), loadSagas(false)]).catch((e) => say(e.message));
})();
