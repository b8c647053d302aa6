// The page's one WebSocket to /ws/ (api.md), shared by every module that
// imports it (a module is loaded once per page). It opens on first use,
// reconnects with growing, jittered delays, and tells listeners when it is
// ready again so they can resume from their cursors. Frames are dispatched by
// their "type"; "socket.closed" is emitted when the connection drops.

const listeners = new Map();
let ws = null;
let ready = false;
// The current connection's "ready" frame: a module that subscribes after it
// arrived (each <script type="module"> runs in its own task, so the socket
// another module opened can be ready first) still gets it.
let readyFrame = null;
let delay = 500;
const MAX_DELAY = 15000;

function emit(type, frame) {
  for (const handler of listeners.get(type) || []) {
    try { handler(frame); } catch (e) { console.error(e); }
  }
}

function url() {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/`;
}

function connect() {
  if (ws) return;
  ws = new WebSocket(url());
  ws.addEventListener("message", (event) => {
    let frame;
    try { frame = JSON.parse(event.data); } catch (e) { return; }
    if (!frame || typeof frame.type !== "string") return;
    if (frame.type === "ready") {
      ready = true;
      readyFrame = frame;
      delay = 500;
      if (document.hidden) live.send({ type: "presence", status: "away" });
    }
    emit(frame.type, frame);
  });
  ws.addEventListener("close", (event) => {
    ws = null;
    ready = false;
    readyFrame = null;
    emit("socket.closed", { type: "socket.closed", code: event.code });
    // 4401/4403: logged out, banned or forbidden; reconnecting cannot help.
    if (event.code === 4401 || event.code === 4403) return;
    setTimeout(connect, delay / 2 + Math.random() * delay);
    delay = Math.min(delay * 2, MAX_DELAY);
  });
}

export const live = {
  // Call handler(frame) for each frame of this type; returns an unsubscribe function.
  on(type, handler) {
    if (!listeners.has(type)) listeners.set(type, new Set());
    listeners.get(type).add(handler);
    connect();
    if (type === "ready" && readyFrame) {
      const frame = readyFrame;
      queueMicrotask(() => { if (readyFrame === frame) handler(frame); });
    }
    return () => listeners.get(type).delete(handler);
  },
  // Send a frame if the socket is ready; false when it is not (the caller
  // retries after the next "ready", or falls back to the HTTP API).
  send(frame) {
    if (!ws || !ready || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  },
  get ready() { return ready; },
};

// Presence: "away" while the page is hidden, "online" when it is shown again.
document.addEventListener("visibilitychange", () => {
  live.send({ type: "presence", status: document.hidden ? "away" : "online" });
});
