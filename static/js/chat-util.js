// What the chat pages' modules share: the JSON API with the session cookie
// and CSRF, uploads with progress, building elements from text (never HTML),
// relative time labels (in the reader's language), avatars and client ids. Used by chat-room.js,
// chat-thread.js, chat-message.js and chat-composer.js.

import { dayKey, fmt, formatDate, gettext, relative } from "./i18n.js";

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

// Dates and times in the page's language and the user's time zone (i18n.js).
export function timeLabel(iso) {
  return formatDate(iso, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

// The exact time, for a title on hover.
export function exactTime(iso) {
  return formatDate(iso, { dateStyle: "full", timeStyle: "medium" });
}

// The clock time alone ("14:05", "오후 02:05").
export function clockTime(iso) {
  return formatDate(iso, { hour: "2-digit", minute: "2-digit" });
}

// "just now", "5 min. ago", "3 hr. ago", "yesterday 14:05", then the date,
// in the reader's language (Intl.RelativeTimeFormat: "5分钟前", "5분 전"),
// the days counted in the user's time zone.
export function relativeTime(iso, now = Date.now()) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const seconds = Math.round((now - d.getTime()) / 1000);
  if (seconds < 45) return gettext("just now");
  if (seconds < 3600) return relative.format(-Math.max(1, Math.round(seconds / 60)), "minute");
  if (seconds < 6 * 3600) return relative.format(-Math.round(seconds / 3600), "hour");
  const clock = clockTime(d);
  const day = dayKey(d);
  if (day === dayKey(new Date(now))) return `${relative.format(0, "day")} ${clock}`;
  if (day === dayKey(new Date(now - 86400000))) return `${relative.format(-1, "day")} ${clock}`;
  return timeLabel(iso);
}

// A <time> that shows a relative label, the exact time on hover, and is
// refreshed by startClock().
export function timeNode(iso, attrs = {}) {
  return el("time", { datetime: iso, title: exactTime(iso), "data-relative": true, ...attrs }, relativeTime(iso));
}

export function refreshTimes(root = document) {
  const now = Date.now();
  for (const node of root.querySelectorAll("time[data-relative]")) {
    const iso = node.getAttribute("datetime");
    if (!iso) continue;
    node.textContent = relativeTime(iso, now);
    if (!node.title) node.title = exactTime(iso);
  }
}

let clock = null;
// Relative labels every 30 s (once per page, whoever asks).
export function startClock() {
  refreshTimes();
  if (!clock) clock = setInterval(() => refreshTimes(), 30000);
}

// A stable colour per user id (for initials avatars): a hue from its hash, dark
// enough (28% lightness) that white initials pass WCAG AA on every hue.
export function colourFor(id) {
  let hash = 0;
  for (const ch of String(id || "")) hash = (hash * 31 + ch.codePointAt(0)) | 0;
  return `hsl(${Math.abs(hash) % 360} 55% 28%)`;
}

export function initials(name) {
  const parts = String(name || "?").split(/[\s._-]+/).filter(Boolean);
  return ((parts[0] || "?")[0] + (parts[1] ? parts[1][0] : "")).toUpperCase();
}

// An uploaded avatar (http(s) or same-site only), else initials on a colour.
export function avatarNode(user, size = 36) {
  const url = user && user.avatar_url;
  if (url && /^(https?:\/\/|\/(?!\/))/i.test(url)) {
    return el("img", { class: "avatar", src: url, alt: "", width: size, height: size, loading: "lazy" });
  }
  return el("span", { class: "avatar initials", "aria-hidden": "true", style: `background:${colourFor(user && user.id)}` },
    initials(user && user.username));
}

// POST a file to /api/v1/uploads with progress (fetch cannot report upload
// progress): resolves to the upload object, rejects with the API's message.
export function uploadFile(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${API}uploads`);
    xhr.withCredentials = true;
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && onProgress) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300 && data) { if (onProgress) onProgress(1); resolve(data); return; }
      const err = data && data.error;
      const fields = err && err.fields ? Object.values(err.fields).flat().join(" ") : "";
      const fallback = xhr.status === 413 ? gettext("This file is too large.")
        : fmt(gettext("Upload failed (HTTP %(status)s)."), { status: String(xhr.status) });
      reject(new Error(fields || (err && err.message) || fallback));
    });
    xhr.addEventListener("error", () => reject(new Error(gettext("Upload failed: the server could not be reached."))));
    const form = new FormData();
    form.append("file", file);
    xhr.send(form);
  });
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
