// Stream's operator page: plain browser JavaScript, no build step, no third-party code.
'use strict';

const TILE_MS = 400;          // a tile's picture is fetched every 400 ms (>= 2 updates a second)
const STATS_MS = 1000;        // camera stats (state, fps, drops, latency) every second
const FEED_MAX = 200;         // events kept on the page
const $ = (sel) => document.querySelector(sel);
const tiles = new Map();      // camera id -> { el, img, busy, url, seq, updates }
let large = null;             // camera id shown large

function token() { return sessionStorage.getItem('stream.token') || ''; }
function say(text, isError) { const m = $('#message'); m.textContent = text; m.className = isError ? 'error' : ''; }
function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }
function fmt(v, unit) { return v === null || v === undefined ? '–' : `${v}${unit || ''}`; }

// One call of the camera API; a 503 (a camera re-enabled while its last frames still drain) is retried `retries` times.
async function control(method, path, body, retries = 0) {
  const headers = { 'Content-Type': 'application/json' };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const res = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  if (res.status === 401) { say('token required: enter the control token (Http:ControlToken) above', true); return null; }
  if (res.status === 503 && retries > 0) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return control(method, path, body, retries - 1);
  }
  if (!res.ok) {
    let reason = res.statusText;
    try { reason = (await res.json()).error || reason; } catch { /* not JSON */ }
    say(`${method} ${path}: ${reason}`, true);
    return null;
  }
  say('');
  return res;
}

// ---- camera grid ----
function makeTile(cam) {
  const t = { el: el('div', 'tile'), img: el('img', 'pic'), busy: false, seq: null, updates: 0, url: null };
  t.el.dataset.camera = cam.id;
  t.img.alt = cam.id;
  const head = el('div', 'head');
  head.append(el('span', 'name', cam.id), el('span', 'badge state'));
  const buttons = el('span', 'buttons');
  const toggle = el('button', 'toggle', 'Disable');
  toggle.type = 'button';
  toggle.addEventListener('click', (e) => { e.stopPropagation(); toggleCamera(cam.id); });
  const remove = el('button', 'remove', 'Remove');
  remove.type = 'button';
  remove.addEventListener('click', (e) => { e.stopPropagation(); removeCamera(cam.id); });
  buttons.append(toggle, remove);
  head.append(buttons);
  t.el.append(t.img, head, el('div', 'stats'), el('div', 'error'));
  t.el.addEventListener('click', () => openLarge(cam.id));
  $('#grid').append(t.el);
  tiles.set(cam.id, t);
  return t;
}

function renderTile(t, cam) {
  const state = t.el.querySelector('.state');
  state.textContent = cam.state;
  state.className = `badge state ${cam.state}`;
  t.el.querySelector('.stats').textContent =
    `in ${fmt(cam.fpsIn)} fps · out ${fmt(cam.fpsOut)} fps · drops ${cam.dropped} · p50 ${fmt(cam.p50Ms, ' ms')} · p99 ${fmt(cam.p99Ms, ' ms')}`;
  t.el.querySelector('.error').textContent = cam.lastError || '';
  t.enabled = cam.enabled !== false;
  if (!t.enabled) state.textContent = 'Disabled';
  t.el.classList.toggle('disabled', !t.enabled);
  t.el.querySelector('.toggle').textContent = t.enabled ? 'Disable' : 'Enable';
  t.el.dataset.state = cam.state;
  t.el.dataset.enabled = String(t.enabled);
  if (large === cam.id) {
    $('#large-stats').textContent = `${cam.state} · ${t.el.querySelector('.stats').textContent} ${cam.lastError ? '· ' + cam.lastError : ''}`;
  }
}

async function refreshCameras() {
  let cams;
  try {
    const res = await fetch('/api/view/cameras', { cache: 'no-store' });
    if (!res.ok) return;
    cams = await res.json();
  } catch { return; }
  const seen = new Set();
  for (const cam of cams) {
    seen.add(cam.id);
    renderTile(tiles.get(cam.id) || makeTile(cam), cam);
  }
  for (const [id, t] of tiles) {
    if (!seen.has(id)) { t.el.remove(); if (t.url) URL.revokeObjectURL(t.url); tiles.delete(id); }
  }
  const select = $('#filter-camera');
  for (const id of seen) {
    if (![...select.options].some((o) => o.value === id)) select.append(new Option(id, id));
  }
}

async function refreshPicture(id, t) {
  if (t.busy || t.enabled === false || document.hidden) return;
  t.busy = true;
  try {
    const res = await fetch(`/api/cameras/${encodeURIComponent(id)}/latest.jpg?boxes=1`, { cache: 'no-store' });
    if (!res.ok) return;
    const seq = res.headers.get('X-Frame-Sequence');
    if (seq === t.seq) return;
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    t.img.onload = () => { if (t.url && t.url !== url) URL.revokeObjectURL(t.url); t.url = url; };
    t.img.src = url;
    t.seq = seq;
    t.updates += 1;
    t.el.dataset.sequence = seq;
    t.el.dataset.updates = String(t.updates);
  } catch { /* the next tick retries */ } finally { t.busy = false; }
}

function pictures() { for (const [id, t] of tiles) refreshPicture(id, t); }

function openLarge(id) {
  large = id;
  $('#large-title').textContent = id;
  $('#large-img').src = `/api/cameras/${encodeURIComponent(id)}/stream.mjpg?boxes=1&fps=5`;
  $('#large').hidden = false;
}

function closeLarge() {
  large = null;
  $('#large-img').removeAttribute('src'); // ends the MJPEG stream: no viewer, no cost
  $('#large').hidden = true;
}

// ---- camera control (the camera API and its token rule) ----
async function addCamera(form) {
  const data = new FormData(form);
  const cam = { Id: data.get('id').trim(), Url: data.get('url').trim() };
  if (data.get('maxFps')) cam.MaxFps = Number(data.get('maxFps'));
  if (data.get('loop')) { cam.Loop = true; cam.Pacing = 'Native'; }
  if (await control('POST', '/api/cameras', cam)) {
    form.reset();
    say(`camera ${cam.Id} added`);
    refreshCameras();
  }
}

async function removeCamera(id) {
  if (!confirm(`Remove camera ${id}?`)) return;
  if (await control('DELETE', `/api/cameras/${encodeURIComponent(id)}`)) refreshCameras();
}

async function toggleCamera(id) {
  const t = tiles.get(id);
  const action = t && t.enabled === false ? 'enable' : 'disable';
  if (await control('POST', `/api/cameras/${encodeURIComponent(id)}/${action}`, undefined, action === 'enable' ? 10 : 0)) {
    say(`camera ${id} ${action}d`);
    refreshCameras();
  }
}

// ---- events ----
// A track's short id: its number in the camera run (ids are the run's epoch x 1000 + n, unique across runs); the full
// id stays in the event and shows on hover.
function shortTrackId(e) {
  const id = BigInt(e.track_id);
  const base = e.epoch ? BigInt(e.epoch) * 1000n : 0n;
  return (base > 0n && id > base ? id - base : id).toString();
}

function describe(e) {
  const parts = [];
  if (e.label) parts.push(e.label);
  if (e.track_id !== undefined && e.track_id !== null) parts.push(`#${shortTrackId(e)}`);
  if (e.zone) parts.push(`zone ${e.zone}`);
  if (e.line) parts.push(`line ${e.line}${e.direction ? ' ' + e.direction : ''}`);
  if (e.dwell_seconds) parts.push(`${e.dwell_seconds.toFixed(1)} s`);
  if (e.state) parts.push(e.state);
  return parts.join(' · ');
}

function matches(e) {
  const cam = $('#filter-camera').value;
  const kind = $('#filter-kind').value;
  return (!cam || e.camera_id === cam) && (!kind || e.kind === kind);
}

const events = [];

function eventRow(e) {
  const li = el('li');
  li.dataset.kind = e.kind;
  li.dataset.camera = e.camera_id;
  li.dataset.id = e.id;
  const img = el('img', 'thumb');
  img.alt = e.kind;
  if (e.frame_key) {
    let tries = 0;
    // The sink stores the frame right after the event: a first miss is retried.
    img.onerror = () => { if (++tries <= 3) setTimeout(() => { img.src = `/api/events/${e.id}/snapshot.jpg?boxes=1&try=${tries}`; }, 1000); else img.classList.add('missing'); };
    img.src = `/api/events/${e.id}/snapshot.jpg?boxes=1`;
  } else {
    img.classList.add('missing');
  }
  const text = el('div');
  const what = el('div', 'what', describe(e));
  if (e.track_id != null) what.title = `track ${e.track_id}`;
  text.append(el('div', 'kind', `${e.kind} · ${e.camera_id}`), what,
    el('div', 'meta', new Date(e.time).toLocaleTimeString()));
  // An ended track has a clip of its seconds (docs/events.md, "Clips"): played in place, the event's picture as poster.
  if ((e.kind === 'track_ended' || e.kind === 'clip_ready') && e.track_id != null && e.epoch) {
    const play = el('button', 'clip-button', e.clip_seconds ? `▶ clip ${e.clip_seconds.toFixed(1)} s` : '▶ clip');
    play.type = 'button';
    play.addEventListener('click', () => openClip(li, e, img));
    text.append(play);
  }
  li.append(img, text);
  return li;
}

function openClip(li, e, img) {
  if (li.querySelector('video')) return;
  const video = el('video', 'clip');
  video.controls = true;
  video.muted = true;
  video.playsInline = true;
  video.preload = 'auto';
  if (e.frame_key) video.poster = `/api/events/${e.id}/snapshot.jpg?boxes=1`;
  video.onerror = () => { video.replaceWith(el('div', 'meta error', 'no clip (not cut yet, failed, or deleted)')); };
  video.src = `/api/events/${e.id}/clip.mp4`;
  li.classList.add('playing');
  li.append(video);
  video.play().catch(() => { /* autoplay refused: the controls are there */ });
}

function renderFeed() {
  const feed = $('#feed');
  feed.replaceChildren(...events.filter(matches).slice(0, FEED_MAX).map(eventRow));
}

function addEvent(e) {
  events.unshift(e);
  if (events.length > FEED_MAX * 2) events.length = FEED_MAX * 2;
  if (matches(e)) {
    const feed = $('#feed');
    feed.prepend(eventRow(e));
    while (feed.children.length > FEED_MAX) feed.lastChild.remove();
  }
}

async function startEvents() {
  try {
    const res = await fetch('/api/events?limit=100', { cache: 'no-store' });
    if (res.ok) { events.push(...await res.json()); renderFeed(); }
  } catch { /* the stream below still delivers new ones */ }
  const source = new EventSource('/api/events/stream');
  const badge = $('#sse');
  source.onopen = () => { badge.textContent = 'live'; badge.className = 'badge ok'; };
  source.onerror = () => { badge.textContent = 'reconnecting'; badge.className = 'badge degraded'; };
  source.onmessage = (m) => addEvent(JSON.parse(m.data));
  for (const kind of ['zone_entered', 'zone_exited', 'line_crossed', 'track_started', 'track_ended', 'track_updated', 'counts', 'camera_status']) {
    source.addEventListener(kind, (m) => addEvent(JSON.parse(m.data)));
  }
}

async function refreshHealth() {
  const badge = $('#health');
  try {
    const res = await fetch('/readyz', { cache: 'no-store' });
    const body = await res.json().catch(() => null);
    const status = body && body.status ? body.status : (res.ok ? 'Healthy' : 'Unhealthy');
    badge.textContent = `ready: ${status}`;
    badge.className = `badge ${status === 'Healthy' ? 'ok' : status === 'Degraded' ? 'degraded' : 'bad'}`;
    badge.title = body && body.checks ? body.checks.map((c) => `${c.name}: ${c.status} ${c.description || ''}`).join('\n') : '';
  } catch {
    badge.textContent = 'unreachable';
    badge.className = 'badge bad';
  }
}

document.addEventListener('DOMContentLoaded', () => {
  const input = $('#token');
  input.addEventListener('change', () => { sessionStorage.setItem('stream.token', input.value); input.value = ''; input.placeholder = token() ? 'token set' : 'Http:ControlToken'; });
  $('#token-form').addEventListener('submit', (e) => { e.preventDefault(); input.dispatchEvent(new Event('change')); });
  if (token()) input.placeholder = 'token set';
  $('#add-form').addEventListener('submit', (e) => { e.preventDefault(); addCamera(e.target); });
  $('#large-close').addEventListener('click', closeLarge);
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape') closeLarge(); });
  $('#filter-camera').addEventListener('change', renderFeed);
  $('#filter-kind').addEventListener('change', renderFeed);
  refreshCameras();
  refreshHealth();
  startEvents();
  setInterval(refreshCameras, STATS_MS);
  setInterval(pictures, TILE_MS);
  setInterval(refreshHealth, 5000);
});
