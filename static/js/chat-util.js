// What the chat pages' modules share: the JSON API with the session cookie
// and CSRF, building elements from text (never HTML), time labels and
// client ids. Used by chat-room.js and chat-thread.js.

const API = "/api/v1/";

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

// Paths are relative to /api/v1/ (the pages' config.api).
export async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() } };
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(API + path, init);
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const err = data && data.error ? data.error : { message: `HTTP ${response.status}` };
    const fields = err.fields ? Object.values(err.fields).flat().join(" ") : "";
    throw new Error(fields || err.message);
  }
  return data;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;

// Text with clickable http(s) links; everything else stays plain text.
export function linkify(value) {
  const out = document.createDocumentFragment();
  let last = 0;
  for (const match of value.matchAll(URL_RE)) {
    let url = match[0].replace(/[.,;:!?)\]]+$/, "");
    out.append(document.createTextNode(value.slice(last, match.index)));
    out.append(el("a", { href: url, rel: "noopener noreferrer nofollow", target: "_blank" }, url));
    last = match.index + url.length;
  }
  out.append(document.createTextNode(value.slice(last)));
  return out;
}

export function timeLabel(iso) {
  const d = new Date(iso);
  return d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

// An id per message being sent, so a retried request is stored once. randomUUID needs
// a secure context; getRandomValues works on plain http too.
export function clientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// Put a message's node into ``list`` (an <ol> of messages by data-id), replacing
// its old node or keeping (created_at, id) order, as cursors sort; ``byId``
// maps the shown ids to their messages.
export function placeMessage(list, byId, m, node) {
  const existing = list.querySelector(`li[data-id="${CSS.escape(m.id)}"]`);
  byId.set(m.id, m);
  if (existing) { existing.replaceWith(node); return; }
  const key = m.created_at + m.id;
  for (const child of list.children) {
    const other = byId.get(child.dataset.id);
    if (other && other.created_at + other.id > key) { list.insertBefore(node, child); return; }
  }
  list.append(node);
}

// The newest of the messages in ``byId`` (null when none).
export function newestOf(byId) {
  let found = null;
  for (const m of byId.values()) if (!found || m.created_at + m.id > found.created_at + found.id) found = m;
  return found;
}
