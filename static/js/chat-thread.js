// The thread panel beside a room (issue 16): open a message's thread (the
// room page's "Thread" buttons send "thread:open"; ?thread=<root id> opens
// one on load), read it, reply in it (optionally also to the room), follow
// or unfollow it. Replies arrive live as message.new with thread_id; while
// the panel is open and the page visible they are marked read with the
// socket's thread.read frame (the API when the socket is down).
// Text is only ever inserted as text nodes.

import { live } from "./socket.js";
import { api, clientId, el, newestOf, placeMessage, timeLabel } from "./chat-util.js";

const config = JSON.parse(document.getElementById("chat-config").textContent);
const ROOM = config.roomId;

const panel = document.getElementById("thread-panel");
const rootOut = document.getElementById("thread-root");
const replies = document.getElementById("thread-replies");
const earlier = document.getElementById("thread-earlier");
const form = document.getElementById("thread-composer");
const text = document.getElementById("thread-text");
const also = document.getElementById("thread-also");
const errorOut = document.getElementById("thread-error");
const followButton = document.getElementById("thread-follow");

// root: the root message; byId: its replies shown; lastRead: the newest reply marked read.
const state = { root: null, prev: null, byId: new Map(), lastRead: null, pending: new Map(), clientId: null };

function render(m, { root = false } = {}) {
  const node = el(root ? "div" : "li", { class: `msg${m.is_deleted ? " deleted" : ""}`, "data-id": m.id, "data-testid": root ? "thread-root-message" : "thread-reply" });
  node.append(el("div", { class: "msg-head" },
    el("strong", { class: "author" }, m.user ? m.user.username : "?"), " ",
    el("time", { datetime: m.created_at, class: "muted" }, timeLabel(m.created_at)),
    m.also_to_room ? el("span", { class: "badge" }, "also in the room") : null));
  node.append(m.is_deleted
    ? el("p", { class: "content muted" }, el("em", {}, "This message was removed."))
    : el("p", { class: "content", "data-testid": "message-content" }, m.content));
  for (const a of m.is_deleted ? [] : m.attachments) {
    node.append(el("a", { href: a.url, download: a.filename, class: "file" }, `📎 ${a.filename}`));
  }
  return node;
}

function upsert(m) {
  placeMessage(replies, state.byId, m, render(m));
}

function newest() {
  return newestOf(state.byId);
}

function showFollow() {
  const following = Boolean(state.root && state.root.thread && state.root.thread.following);
  followButton.textContent = following ? "Unfollow" : "Follow";
  followButton.dataset.following = following ? "true" : "false";
}

async function markRead() {
  if (!state.root || document.hidden) return;
  const last = newest() || state.root;
  if (last.id === state.lastRead) return;
  state.lastRead = last.id;
  const frame = { type: "thread.read", root_id: state.root.id, message_id: last.id };
  if (live.send(frame)) return;
  try { await api("POST", `threads/${state.root.id}/read`, { message_id: last.id }); } catch (e) { state.lastRead = null; }
}

async function open(rootId) {
  errorOut.textContent = "";
  try {
    const page = await api("GET", `messages/${rootId}/thread?limit=50`);
    state.root = page.root;
    state.prev = page.prev;
    state.byId.clear();
    state.lastRead = null;
    replies.replaceChildren();
    rootOut.replaceChildren(render(page.root, { root: true }));
    page.results.forEach(upsert);
    earlier.hidden = !state.prev;
    panel.hidden = false;
    document.getElementById("chat-room").classList.add("thread-open");
    panel.dataset.rootId = rootId;
    showFollow();
    const url = new URL(location.href);
    url.searchParams.set("thread", rootId);
    history.replaceState(null, "", url);
    if (replies.lastElementChild) replies.lastElementChild.scrollIntoView({ block: "end" });
    text.focus();
    markRead();
  } catch (e) {
    errorOut.textContent = e.message;
  }
}

function close() {
  panel.hidden = true;
  state.root = null;
  delete panel.dataset.rootId;
  document.getElementById("chat-room").classList.remove("thread-open");
  const url = new URL(location.href);
  url.searchParams.delete("thread");
  history.replaceState(null, "", url);
}

document.addEventListener("thread:open", (event) => open(event.detail.rootId));
document.getElementById("thread-close").addEventListener("click", close);
document.addEventListener("visibilitychange", () => { if (!document.hidden) markRead(); });

earlier.addEventListener("click", async () => {
  if (!state.root || !state.prev) return;
  const page = await api("GET", `messages/${state.root.id}/thread?limit=50&before=${encodeURIComponent(state.prev)}`);
  page.results.forEach(upsert);
  state.prev = page.prev;
  earlier.hidden = !state.prev;
});

followButton.addEventListener("click", async () => {
  if (!state.root) return;
  const following = followButton.dataset.following === "true";
  try {
    await api(following ? "DELETE" : "POST", `messages/${state.root.id}/follow`);
    state.root.thread = { ...(state.root.thread || { reply_count: 0, last_reply_at: null, participants: [], unread: 0 }), following: !following };
    showFollow();
  } catch (e) { errorOut.textContent = e.message; }
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  errorOut.textContent = "";
  if (!state.root || !text.value.trim()) return;
  state.clientId = state.clientId || clientId();
  const body = { content: text.value, client_id: state.clientId, thread_id: state.root.id, also_to_room: also.checked };
  const frame = { type: "message.send", room_id: ROOM, ...body };
  try {
    if (live.send(frame)) state.pending.set(frame.client_id, frame); // the ack shows it
    else upsert(await api("POST", `rooms/${ROOM}/messages/`, body));
    state.clientId = null;
    text.value = "";
    also.checked = false;
  } catch (e) { errorOut.textContent = e.message; }
});

text.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});

live.on("message.new", (frame) => {
  const m = frame.message;
  if (!state.root || m.thread_id !== state.root.id) return;
  upsert(m);
  replies.lastElementChild.scrollIntoView({ block: "end" });
  markRead();
});

live.on("message.updated", (frame) => {
  const m = frame.message;
  if (state.root && m.id === state.root.id) {
    state.root = { ...m, thread: state.root.thread };
    rootOut.replaceChildren(render(state.root, { root: true }));
  } else if (state.byId.has(m.id)) upsert(m);
});

live.on("message.deleted", (frame) => {
  if (state.root && frame.message_id === state.root.id) {
    state.root = { ...state.root, is_deleted: true, content: "", attachments: [] };
    rootOut.replaceChildren(render(state.root, { root: true })); // the thread stays readable
  } else if (state.byId.has(frame.message_id)) {
    state.byId.delete(frame.message_id);
    replies.querySelector(`li[data-id="${CSS.escape(frame.message_id)}"]`)?.remove();
  }
});

live.on("ack", (frame) => {
  if (!state.pending.delete(frame.client_id)) return;
  if (state.root && frame.message.thread_id === state.root.id) {
    upsert(frame.message);
    replies.lastElementChild.scrollIntoView({ block: "end" });
    // Replying follows the thread (the server's rule).
    state.root.thread = { ...(state.root.thread || {}), following: true };
    showFollow();
  }
});

live.on("error", (frame) => {
  if (frame.ref && state.pending.delete(frame.ref)) errorOut.textContent = frame.message;
});

// After a reconnect, send what was not acknowledged (stored once by client_id).
live.on("ready", () => { for (const frame of state.pending.values()) live.send(frame); });

if (config.thread) open(config.thread);
panel.dataset.ready = "true";
