// Live updates for every signed-in page: one WebSocket to /api/realtime (session cookie).
//
// The server stays the single source of HTML. An event only says *what* changed; the page then
// asks htmx to reload the fragments that show it: every element with data-live="<topic> ..."
// and an hx-trigger of "refresh". Topics: "incidents" (any incident), "incident:<id>", "alerts".
//
// Connection: indicator in the top bar; reconnects with exponential backoff (1 s → 30 s, jitter)
// and asks the server to replay what it missed with ?since=<last server time seen>.

const BACKOFF_START_MS = 1000;
const BACKOFF_MAX_MS = 30000;
// After this many failed attempts in a row the indicator says "disconnected" (it keeps trying).
const ATTEMPTS_BEFORE_DISCONNECTED = 5;
// Timeline entries are stamped before their transaction commits, so an entry can become visible
// after a later server time we already saw. Replaying a little further back covers that;
// duplicates are harmless because fragments are reloaded, not patched.
const REPLAY_MARGIN_MS = 30000;
// Events in a burst (a detection cycle opening ten incidents) cost one reload per fragment.
const REFRESH_COALESCE_MS = 250;
const AGE_TICK_MS = 30000;
const CLOSE_UNAUTHENTICATED = 4401;
const EVENT_TYPES = new Set(["incident_created", "incident_updated", "correlation_found", "alert"]);
const NOTIFY_KEY = "rs-notify";

const root = document.documentElement;
const indicator = document.getElementById("live");
const indicatorText = document.getElementById("live-text");
const retryButton = document.getElementById("live-retry");
const announcer = document.getElementById("live-announcer");

let socket = null;
let attempt = 0;
let reconnectTimer = null;
let watchdogTimer = null;
let heartbeatMs = 30000;
let everConnected = false;
let stopped = false;
// The newest server time we were in sync at; starts at the page's render time.
let lastTs = document.body.dataset.since || null;

// --- Indicator -------------------------------------------------------------------------------

function setState(state, text) {
  root.dataset.live = state; // tests and styles read this
  if (!indicator) return;
  indicator.dataset.state = state;
  if (indicatorText.textContent !== text) indicatorText.textContent = text;
  retryButton.hidden = state === "connected" || state === "connecting" || stopped;
}

// --- Connection ------------------------------------------------------------------------------

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  let url = `${scheme}//${location.host}/api/realtime`;
  if (lastTs) {
    const since = new Date(Date.parse(lastTs) - REPLAY_MARGIN_MS);
    if (!Number.isNaN(since.getTime())) url += `?since=${encodeURIComponent(since.toISOString())}`;
  }
  return url;
}

function connect() {
  clearTimeout(reconnectTimer);
  reconnectTimer = null;
  if (stopped || socket) return;
  setState(everConnected ? "reconnecting" : "connecting", everConnected ? "Reconnecting…" : "Connecting…");
  let ws;
  try {
    ws = new WebSocket(socketUrl());
  } catch (error) {
    scheduleReconnect();
    return;
  }
  socket = ws;
  kickWatchdog();
  ws.addEventListener("message", (event) => {
    if (socket !== ws) return;
    let message;
    try { message = JSON.parse(event.data); } catch (error) { return; }
    onMessage(message);
  });
  ws.addEventListener("close", (event) => {
    if (socket !== ws) return;
    socket = null;
    clearTimeout(watchdogTimer);
    if (event.code === CLOSE_UNAUTHENTICATED) {
      stopped = true;
      setState("disconnected", "Signed out — reload to sign in");
      return;
    }
    scheduleReconnect();
  });
}

function scheduleReconnect() {
  if (stopped || reconnectTimer) return;
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** attempt);
  // "Equal jitter": at least half the ceiling, so a fleet of tabs does not reconnect in step.
  const delay = ceiling / 2 + Math.random() * (ceiling / 2);
  attempt += 1;
  const seconds = Math.max(1, Math.round(delay / 1000));
  if (attempt > ATTEMPTS_BEFORE_DISCONNECTED || !navigator.onLine) {
    setState("disconnected", `Disconnected · retry in ${seconds} s`);
  } else {
    setState("reconnecting", `Reconnecting in ${seconds} s…`);
  }
  reconnectTimer = setTimeout(connect, delay);
}

function reconnectNow() {
  if (stopped || socket) return;
  attempt = 0;
  connect();
}

// A connection can die without a close frame (sleep, a proxy dropping it): the server sends a
// heartbeat every heartbeat_seconds, so silence for much longer means the socket is gone.
function kickWatchdog() {
  clearTimeout(watchdogTimer);
  watchdogTimer = setTimeout(() => {
    if (socket) socket.close();
  }, heartbeatMs * 2.5);
}

// --- Messages --------------------------------------------------------------------------------

function onMessage(message) {
  kickWatchdog();
  if (message.ts && message.type !== "error" && (!lastTs || Date.parse(message.ts) > Date.parse(lastTs))) {
    lastTs = message.ts;
  }
  if (message.type === "hello") {
    heartbeatMs = (message.data?.heartbeat_seconds || 30) * 1000;
    const reconnected = everConnected;
    everConnected = true;
    attempt = 0;
    setState("connected", "Live");
    // A replay may be truncated and alerts are not replayed at all: reload what the page shows.
    if (reconnected) refreshAll();
    return;
  }
  if (!EVENT_TYPES.has(message.type)) return;
  const data = message.data || {};
  for (const topic of topicsOf(message.type, data)) refreshTopic(topic);
  if (message.type === "incident_created") onIncidentCreated(data);
}

function topicsOf(type, data) {
  if (type === "alert") return ["alerts"];
  const id = type === "correlation_found" ? (data.incident_id ?? data.incident?.id ?? data.incident) : data.id;
  return id == null ? ["incidents"] : ["incidents", `incident:${id}`];
}

// --- Fragments -------------------------------------------------------------------------------

const pending = new Set();

function refreshTopic(topic) {
  for (const element of document.querySelectorAll("[data-live]")) {
    if (element.dataset.live.split(/\s+/).includes(topic)) scheduleRefresh(element);
  }
}

function refreshAll() {
  for (const element of document.querySelectorAll("[data-live]")) scheduleRefresh(element);
}

function scheduleRefresh(element) {
  if (pending.has(element)) return;
  pending.add(element);
  setTimeout(() => {
    pending.delete(element);
    if (element.isConnected && window.htmx) window.htmx.trigger(element, "refresh");
  }, REFRESH_COALESCE_MS);
}

// Rows that are new or changed after a live refresh flash once; a filter change does not.
let rowVersions = null;
document.addEventListener("htmx:beforeSwap", (event) => {
  const target = event.detail.target;
  rowVersions = null;
  if (target?.id === "feed-rows" && event.detail.requestConfig?.triggeringEvent?.type === "refresh") {
    rowVersions = new Map([...target.querySelectorAll("tr[data-id]")].map((row) => [row.dataset.id, row.dataset.version]));
  }
});
document.addEventListener("htmx:afterSwap", (event) => {
  if (!rowVersions || event.detail.target?.id !== "feed-rows") return;
  for (const row of event.detail.target.querySelectorAll("tr[data-id]")) {
    if (rowVersions.get(row.dataset.id) !== row.dataset.version) row.classList.add("flash-row");
  }
  rowVersions = null;
  updateAges();
});

// A fragment request answered by the sign-in page means the session ended: go there whole,
// instead of drawing a login form inside a table. Failed requests say so instead of doing nothing.
const toast = document.getElementById("toast");
let toastTimer = null;

function showToast(text) {
  if (!toast) return;
  toast.textContent = text;
  toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { toast.hidden = true; }, 8000);
}

document.addEventListener("htmx:beforeSwap", (event) => {
  const loginUrl = document.body.dataset.loginUrl;
  const responseUrl = event.detail.xhr?.responseURL || "";
  if (loginUrl && new URL(responseUrl || location.href).pathname === loginUrl) {
    event.detail.shouldSwap = false;
    location.assign(`${loginUrl}?next=${encodeURIComponent(location.pathname + location.search)}`);
  }
});
document.addEventListener("htmx:responseError", (event) => {
  showToast(`The server answered ${event.detail.xhr.status}. Try again, or reload the page.`);
});
document.addEventListener("htmx:sendError", (event) => {
  // Background refreshes fail quietly while offline: the indicator already says so.
  if (event.detail.requestConfig?.verb !== "get") showToast("The server could not be reached. Try again.");
});

// --- Ages ------------------------------------------------------------------------------------

function compactDuration(seconds) {
  const total = Math.max(0, Math.floor(seconds));
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = total % 60;
  const pad = (n) => String(n).padStart(2, "0");
  if (days) return hours ? `${days}d ${hours}h` : `${days}d`;
  if (hours) return `${hours}h ${pad(minutes)}m`;
  if (minutes) return minutes < 10 ? `${minutes}m ${pad(secs)}s` : `${minutes}m`;
  return `${secs}s`;
}

function updateAges() {
  const now = Date.now();
  for (const element of document.querySelectorAll("[data-age]")) {
    const at = Date.parse(element.dataset.age || element.getAttribute("datetime"));
    if (!Number.isNaN(at)) element.textContent = compactDuration((now - at) / 1000);
  }
}

// --- Critical incidents: announce, and optionally sound or notify --------------------------

const notified = new Set(); // a replay after reconnect must not ring twice for one incident
const notifySelect = document.getElementById("notify-mode");
let audio = null;

function notifyMode() {
  try { return localStorage.getItem(NOTIFY_KEY) || "off"; } catch (error) { return "off"; }
}

function onIncidentCreated(data) {
  if (announcer) announcer.textContent = `New ${data.severity || ""} incident: ${data.title || ""}`;
  if (data.severity !== "critical" || notified.has(data.id)) return;
  notified.add(data.id);
  const mode = notifyMode();
  if (mode === "desktop" && "Notification" in window && Notification.permission === "granted") {
    const service = data.service?.name ? ` · ${data.service.name}` : "";
    const note = new Notification(`Critical incident #${data.id}`, { body: `${data.title}${service}`, tag: `incident-${data.id}` });
    note.onclick = () => { window.focus(); if (data.url) location.assign(data.url); };
  } else if (mode === "sound" || mode === "desktop") {
    beep();
  }
}

function beep() {
  try {
    audio = audio || new AudioContext();
    audio.resume();
    // Two short falling tones: noticeable, not alarming.
    [880, 660].forEach((frequency, index) => {
      const start = audio.currentTime + index * 0.18;
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.2, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.16);
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start(start);
      oscillator.stop(start + 0.17);
    });
  } catch (error) {
    // No audio device: the visual feed is still there.
  }
}

if (notifySelect) {
  notifySelect.value = notifyMode();
  notifySelect.addEventListener("change", async () => {
    let mode = notifySelect.value;
    if (mode === "desktop") {
      const permission = "Notification" in window ? await Notification.requestPermission() : "denied";
      if (permission !== "granted") {
        mode = "sound";
        notifySelect.value = mode;
        if (announcer) announcer.textContent = "Desktop notifications are blocked in this browser; playing a sound instead.";
      }
    }
    try { localStorage.setItem(NOTIFY_KEY, mode); } catch (error) { /* private mode */ }
    if (mode === "sound") beep(); // also unlocks audio while we have a user gesture
  });
}

// --- Start -------------------------------------------------------------------------------------

if (indicator) {
  retryButton.addEventListener("click", reconnectNow);
  window.addEventListener("online", reconnectNow);
  window.addEventListener("offline", () => { if (socket) socket.close(); });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) reconnectNow(); });
  setInterval(updateAges, AGE_TICK_MS);
  connect();
}
