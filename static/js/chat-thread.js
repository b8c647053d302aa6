// The thread panel beside a room (issue 16): open a message's thread (the
// room page's "Thread" buttons send "thread:open"; ?thread=<root id> opens
// one on load), read it, reply in it (optionally also to the room), follow
// or unfollow it. Replies arrive live as message.new with thread_id; while
// the panel is open and the page visible they are marked read with the
// socket's thread.read frame (the API when the socket is down).
// Messages are drawn by chat-message.js (as in the room) and the composer
// is chat-composer.js's; ?around=<reply id> (a notification of a reply)
// highlights that reply.

import { live } from "./socket.js";
import { api, clientId, el, newestOf, placeMessage, refreshTimes } from "./chat-util.js";
import { regroup, renderMessage } from "./chat-message.js";
import { createComposer } from "./chat-composer.js";
import { gettext } from "./i18n.js";

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
  return renderMessage(m, {
    tag: root ? "div" : "li", testid: root ? "thread-root-message" : "thread-reply", me: config.username, userId: config.userId,
    extraHead: [m.also_to_room ? el("span", { class: "badge" }, gettext("also in the room")) : null],
  });
}

function upsert(m) {
  const node = render(m);
  placeMessage(replies, state.byId, m, node);
  regroup(replies, state.byId);
  refreshTimes(node);
}

function newest() {
  return newestOf(state.byId);
}

function showFollow() {
  const following = Boolean(state.root && state.root.thread && state.root.thread.following);
  followButton.textContent = following ? gettext("Unfollow") : gettext("Follow");
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
    const around = new URLSearchParams(location.search).get("around");
    const target = around && replies.querySelector(`li[data-id="${CSS.escape(around)}"]`);
    if (target) { target.classList.add("focus"); target.scrollIntoView({ block: "center" }); }
    else if (replies.lastElementChild) replies.lastElementChild.scrollIntoView({ block: "end" });
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

async function send({ content, attachmentIds }) {
  if (!state.root) return;
  state.clientId = state.clientId || clientId();
  const body = { content, client_id: state.clientId, thread_id: state.root.id, also_to_room: also.checked, attachment_ids: attachmentIds };
  const frame = { type: "message.send", room_id: ROOM, content, client_id: state.clientId, thread_id: state.root.id, also_to_room: also.checked };
  if (!attachmentIds.length && live.send(frame)) state.pending.set(frame.client_id, frame); // the ack shows it
  else upsert(await api("POST", `rooms/${ROOM}/messages/`, body));
  state.clientId = null;
  also.checked = false;
}

// The room's composer offers the same people to mention (chat-room.js keeps them).
createComposer({ form, text, errorOut, onSend: send, maxBytes: config.uploadMaxBytes,
  people: () => document.getElementById("composer")?.composer?.people?.() || [] });

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
    state.root = { ...state.root, is_deleted: true, content: "", html: "", attachments: [] };
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
