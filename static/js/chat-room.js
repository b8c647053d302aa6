// The room page: a history that loads older messages on scroll up (and newer
// ones on scroll down when opened in the middle, at ?around=<message id>),
// a "new messages" divider at the first unread, the composer (chat-composer.js:
// markdown, mentions, emoji, uploads), reactions from the full emoji set,
// edit, delete, pins and the members panel. Messages are drawn by
// chat-message.js. Actions call the JSON API (/api/v1/) with the session
// cookie and CSRF; text messages go over the live socket when it is up. The
// socket (socket.js) brings everyone's messages, edits, reactions, typing and
// presence live; after a reconnect the page resumes from its newest cursor,
// and while the socket is down it polls the API instead.

import { live } from "./socket.js";
import { api, clientId, el, placeMessage, refreshTimes, startClock } from "./chat-util.js";
import { regroup, renderMessage } from "./chat-message.js";
import { createHistory } from "./chat-history.js";
import { createComposer } from "./chat-composer.js";
import { openEmojiPicker } from "./chat-emoji.js";
import { fmt, gettext, ngettext, number } from "./i18n.js";

const config = JSON.parse(document.getElementById("chat-config").textContent);
const ROOM = config.roomId;
const POLL_MS = 4000;
const TYPING_TTL_MS = 6000; // a typing indicator lapses without a refresh (server: TYPING_TTL_SECONDS)
const TYPING_SEND_MS = 2000;

const timeline = document.getElementById("timeline");
const loadEarlier = document.getElementById("load-earlier");
const jumpLatest = document.getElementById("jump-latest");
const composerForm = document.getElementById("composer");
const text = document.getElementById("composer-text");
const errorOut = document.getElementById("composer-error");
const replying = document.getElementById("replying");

// pending: message.send frames not yet acknowledged, by client_id; they are
// sent again after a reconnect (the server stores a client_id once).
const state = { replyTo: null, byId: new Map(), pending: new Map(), members: [], groups: [] };

function showError(message) {
  errorOut.textContent = message || "";
}

function reactionsNode(m) {
  if (!m.reactions.length) return null;
  return el("div", { class: "reactions", "data-testid": "reactions" }, m.reactions.map((r) =>
    el("button", { type: "button", class: `reaction${r.me ? " me" : ""}`, "aria-pressed": r.me ? "true" : "false", "data-emoji": r.emoji,
      title: r.me ? gettext("Remove your reaction") : gettext("React too"), on: { click: () => toggleReaction(m, r.emoji, r.me) } }, `${r.emoji} ${number(r.count)}`)));
}

// "React": any emoji of the full set, from the picker.
function reactButton(m) {
  const button = el("button", { type: "button", class: "link", "data-action": "react", "data-testid": "add-reaction",
    "aria-haspopup": "dialog", "aria-expanded": "false", title: gettext("Add a reaction") }, gettext("React"));
  button.addEventListener("click", () => openEmojiPicker(button, (emoji) => toggleReaction(m, emoji, m.reactions.some((r) => r.emoji === emoji && r.me))));
  return button;
}

function render(m) {
  const mine = m.user && m.user.id === config.userId;
  // A root's thread summary (its unread count is this user's), or, for a
  // thread reply also sent to the room, a link to its thread.
  let summary = null;
  if (m.thread && m.thread.reply_count) {
    summary = el("button", { type: "button", class: "link thread-summary", "data-testid": "thread-summary", on: { click: () => openThread(m.id) } },
      fmt(ngettext("%(count)s reply", "%(count)s replies", m.thread.reply_count), { count: m.thread.reply_count }),
      m.thread.last_reply_at ? el("span", { class: "muted" }, " · ", gettext("last reply"), " ", el("time", { datetime: m.thread.last_reply_at, "data-relative": true }, "")) : null,
      m.thread.unread ? el("span", { class: "unread", "data-testid": "thread-unread", title: gettext("unread replies") }, number(m.thread.unread)) : null);
  } else if (m.thread_id) {
    summary = el("button", { type: "button", class: "link thread-summary", on: { click: () => openThread(m.thread_id) } }, gettext("in a thread"));
  }
  const node = renderMessage(m, {
    me: config.username, userId: config.userId, reactions: reactionsNode, after: [summary],
    actions: [
      el("button", { type: "button", class: "link", "data-action": "reply", on: { click: () => startReply(m) } }, gettext("Reply")),
      reactButton(m),
      m.thread_id ? null : el("button", { type: "button", class: "link", "data-action": "thread", "data-testid": "open-thread", on: { click: () => openThread(m.id) } }, gettext("Thread")),
      mine ? el("button", { type: "button", class: "link", "data-action": "edit", on: { click: () => startEdit(m, node) } }, gettext("Edit")) : null,
      mine || config.powers.delete_any ? el("button", { type: "button", class: "link", "data-action": "delete", on: { click: () => removeMessage(m) } }, gettext("Delete")) : null,
      config.powers.pin ? el("button", { type: "button", class: "link", "data-action": "pin", on: { click: () => togglePin(m) } }, m.is_pinned ? gettext("Unpin") : gettext("Pin")) : null,
    ],
  });
  return node;
}

// The thread panel (chat-thread.js) opens on this event.
function openThread(rootId) {
  document.dispatchEvent(new CustomEvent("thread:open", { detail: { rootId } }));
}

// A thread reply belongs in the room's timeline only when sent also_to_room.
function inRoom(m) {
  return !m.thread_id || m.also_to_room;
}

// A root on the page gets its summary again (with this user's unread count)
// when its thread changes; one request per root at a time.
// Only the newest answer per root is shown (an older one may come back later).
const refreshing = new Map();
const refreshGeneration = new Map();
function refreshRoot(rootId) {
  if (!state.byId.has(rootId) || refreshing.has(rootId)) return;
  refreshing.set(rootId, setTimeout(async () => {
    refreshing.delete(rootId);
    const mine = (refreshGeneration.get(rootId) || 0) + 1;
    refreshGeneration.set(rootId, mine);
    try {
      const fresh = await api("GET", `messages/${rootId}/`);
      if (refreshGeneration.get(rootId) === mine && state.byId.has(rootId)) upsert(fresh);
    } catch (e) { /* removed meanwhile */ }
  }, 150));
}

// Insert or replace, keeping (created_at, id) order: cursors sort the same way.
function upsert(m) {
  const node = render(m);
  placeMessage(timeline, state.byId, m, node);
  regroup(timeline, state.byId);
  refreshTimes(node);
}

function drop(id) {
  const existing = timeline.querySelector(`li[data-id="${CSS.escape(id)}"]`);
  if (existing) existing.remove();
  state.byId.delete(id);
  regroup(timeline, state.byId);
}

const roomHistory = createHistory({ roomId: ROOM, userId: config.userId, lastRead: config.lastRead, timeline, byId: state.byId,
  upsert, drop, showError, loadEarlier, jumpLatest });

function startReply(m) {
  state.replyTo = m;
  replying.hidden = false;
  replying.querySelector("span").textContent = fmt(gettext("Replying to %(name)s: %(text)s"), { name: m.user.username, text: m.content.slice(0, 80) });
  text.focus();
}

function cancelReply() {
  state.replyTo = null;
  replying.hidden = true;
}
document.getElementById("cancel-reply").addEventListener("click", cancelReply);

// People to mention: the room's members, @all and @here, and the org's
// department handles (departments may carry a `handle`; none is offered when
// the API gives none).
function mentionables() {
  return [
    ...state.members.filter((m) => m.user.id !== config.userId).map((m) => ({ name: m.user.username, label: m.role !== "member" ? roleName(m.role) : "" })),
    { name: "all", label: gettext("everyone in the room") },
    { name: "here", label: gettext("everyone online now") },
    ...state.groups,
  ];
}

async function loadGroups() {
  if (!config.orgId) return;
  const data = await api("GET", `orgs/${config.orgId}/departments/?limit=100`);
  state.groups = (data.results || []).filter((d) => d.handle).map((d) => ({ name: d.handle, label: d.name }));
}

async function send({ content, attachmentIds }) {
  // Kept until the send succeeds: a retry after a lost response is stored once.
  state.clientId = state.clientId || clientId();
  const body = { content, client_id: state.clientId, attachment_ids: attachmentIds };
  if (state.replyTo) body.reply_to = state.replyTo.id;
  const frame = { type: "message.send", room_id: ROOM, content, client_id: state.clientId };
  if (state.replyTo) frame.reply_to = state.replyTo.id;
  if (roomHistory.middle) roomHistory.jumpToLatest(); // sending from the middle: go to the live end
  if (!attachmentIds.length && live.send(frame)) {
    state.pending.set(frame.client_id, frame); // the ack shows it
  } else {
    upsert(await api("POST", `rooms/${ROOM}/messages/`, body));
  }
  state.clientId = null;
  cancelReply();
  roomHistory.toBottom();
  roomHistory.markRead();
}

createComposer({ form: composerForm, text, errorOut, onSend: send, people: mentionables, maxBytes: config.uploadMaxBytes,
  fileInput: document.getElementById("composer-file") });

async function toggleReaction(m, emoji, mine) {
  try {
    const updated = mine
      ? await api("DELETE", `messages/${m.id}/reactions/${encodeURIComponent(emoji)}/`)
      : await api("POST", `messages/${m.id}/reactions/`, { emoji });
    upsert(updated);
  } catch (e) { showError(e.message); }
}

function startEdit(m, node) {
  const box = el("textarea", { class: "edit-box", rows: 2, "aria-label": gettext("Edit message"), maxlength: config.maxLength });
  box.value = m.content;
  const save = el("button", { type: "button", "data-action": "save-edit" }, gettext("Save"));
  const cancel = el("button", { type: "button", class: "link" }, gettext("Cancel"));
  const form = el("div", { class: "edit-form" }, box, save, cancel);
  node.querySelector(".msg-text").replaceWith(form);
  box.focus();
  cancel.addEventListener("click", () => upsert(m));
  save.addEventListener("click", async () => {
    try { upsert(await api("PATCH", `messages/${m.id}/`, { content: box.value })); } catch (e) { showError(e.message); }
  });
  box.addEventListener("keydown", (event) => {
    if (event.isComposing || event.keyCode === 229) return;
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); save.click(); }
    if (event.key === "Escape") cancel.click();
  });
}

async function removeMessage(m) {
  if (!confirm(gettext("Delete this message?"))) return;
  try {
    await api("DELETE", `messages/${m.id}/`);
    if (config.powers.delete_any) upsert({ ...m, is_deleted: true, content: "", html: "", reactions: [], attachments: [] });
    else drop(m.id);
    loadPinned();
  } catch (e) { showError(e.message); }
}

async function togglePin(m) {
  try {
    upsert(m.is_pinned ? await api("DELETE", `messages/${m.id}/pin`) : await api("POST", `messages/${m.id}/pin`));
    loadPinned();
  } catch (e) { showError(e.message); }
}

async function loadPinned() {
  const out = document.getElementById("pinned");
  const data = await api("GET", `rooms/${ROOM}/pins/`);
  out.replaceChildren(...data.results.map((m) => el("li", {}, el("a", { href: `?around=${m.id}` }, m.user.username), ": ", m.content.slice(0, 120))));
  if (!data.results.length) out.append(el("li", { class: "muted" }, gettext("Nothing pinned.")));
}

async function loadMembers() {
  const out = document.getElementById("members");
  const data = await api("GET", `rooms/${ROOM}/members/?limit=100`);
  state.members = data.results; // for mention autocomplete
  const channel = config.kind === "channel";
  out.replaceChildren(...data.results.map((member) => {
    const them = member.user.id !== config.userId;
    return el("li", { "data-user": member.user.username, "data-user-id": member.user.id, "data-status": member.status || "offline" },
      el("a", { class: "who", href: `/chat/people/${member.user.id}/` }, member.user.username), " ",
      channel ? el("span", { class: "muted" }, roleName(member.role)) : null, member.is_muted ? el("span", { class: "badge" }, gettext("muted")) : null,
      them && channel ? el("button", { type: "button", class: "link", "data-testid": `message-${member.user.username}`, on: { click: () => openDm([member.user.id]) } }, gettext("message")) : null,
      them && config.powers.mute && member.role !== "owner" ? el("button", { type: "button", class: "link", on: { click: () => memberAction(member, { is_muted: !member.is_muted }) } }, member.is_muted ? gettext("unmute") : gettext("mute")) : null,
      them && config.powers.kick && member.role !== "owner" ? el("button", { type: "button", class: "link", on: { click: () => kick(member) } }, gettext("kick")) : null,
      them && config.powers.assign_roles && RANK[config.role] > RANK[member.role] ? roleSelect(member) : null);
  }));
}

const RANK = { owner: 4, admin: 3, moderator: 2, member: 1 };
// The roles as the reader's language says them (the codes stay English in the API).
const ROLE_NAMES = { owner: gettext("owner"), admin: gettext("admin"), moderator: gettext("moderator"), member: gettext("member") };
function roleName(role) { return ROLE_NAMES[role] || role; }

// Open (or find) the DM with these people, then go to it.
async function openDm(userIds) {
  try {
    const data = await api("POST", "dms/", { user_ids: userIds });
    location.href = `/chat/rooms/${data.room.id}/`;
  } catch (e) { showError(e.message); }
}

// Roles below one's own (owners may also make admins); the server decides.
function roleSelect(member) {
  const roles = ["admin", "moderator", "member"].filter((r) => config.role === "owner" || RANK[r] < RANK[config.role]);
  const select = el("select", { "aria-label": fmt(gettext("Role of %(name)s"), { name: member.user.username }), class: "role-select" },
    roles.map((r) => el("option", { value: r, selected: r === member.role }, roleName(r))));
  select.addEventListener("change", () => memberAction(member, { role: select.value }));
  return select;
}

async function memberAction(member, body) {
  try { await api("PATCH", `rooms/${ROOM}/members/${member.user.id}/`, body); loadMembers(); } catch (e) { showError(e.message); }
}

async function kick(member) {
  if (!confirm(fmt(gettext("Remove %(name)s from the room?"), { name: member.user.username }))) return;
  try { await api("DELETE", `rooms/${ROOM}/members/${member.user.id}/`); loadMembers(); roomHistory.poll(); } catch (e) { showError(e.message); }
}

const inviteButton = document.getElementById("make-invite");
if (inviteButton) {
  inviteButton.addEventListener("click", async () => {
    const out = document.getElementById("invite-out");
    try {
      const invite = await api("POST", `rooms/${ROOM}/invites/`, { max_uses: 0, max_age_seconds: 86400 });
      out.hidden = false;
      out.textContent = fmt(gettext("Invite link (24 h): %(url)s"), { url: `${location.origin}/chat/invite/${invite.code}/` });
    } catch (e) { showError(e.message); }
  });
}

roomHistory.loadInitial().catch((e) => showError(e.message));
startClock();
loadGroups().catch(() => {});
loadPinned().catch(() => {});
loadMembers().catch(() => {});
setInterval(() => { if (!live.ready) roomHistory.poll(); }, POLL_MS);

// ---------------------------------------------------------------- live

const typingOut = document.getElementById("typing");
const liveStatus = document.getElementById("live-status");
const onlineOut = document.getElementById("online-count");
const typists = new Map(); // username -> timer

function showTyping() {
  const names = [...typists.keys()];
  typingOut.textContent = names.length === 0 ? ""
    : names.length === 1 ? fmt(gettext("%(name)s is typing…"), { name: names[0] })
    : fmt(gettext("%(names)s are typing…"), { names: names.slice(0, 3).join(gettext(", ")) });
}

function setOnline(count) {
  onlineOut.textContent = fmt(gettext("%(count)s online"), { count });
}

// Own messages arrive both as an ack and as message.new; upsert is idempotent.
function forThisRoom(frame) {
  const roomId = frame.room_id || (frame.message && frame.message.room_id);
  return roomId === ROOM;
}

live.on("ready", (frame) => {
  liveStatus.textContent = gettext("live");
  liveStatus.dataset.state = "live";
  const room = frame.rooms.find((r) => r.id === ROOM);
  if (room) setOnline(room.online_count);
  // Catch up on whatever arrived while the socket was away, then stay live.
  const newest = roomHistory.newestCursor();
  if (newest) live.send({ type: "resume", rooms: { [ROOM]: newest.cursor } });
  for (const frame of state.pending.values()) live.send(frame);
});

live.on("socket.closed", () => {
  liveStatus.textContent = gettext("reconnecting…");
  liveStatus.dataset.state = "down";
});

live.on("message.new", (frame) => {
  if (!forThisRoom(frame)) return;
  if (frame.message.thread_id) refreshRoot(frame.message.thread_id);
  if (!inRoom(frame.message)) return; // the thread panel shows it
  if (frame.message.user) clearTypist(frame.message.user.username);
  if (roomHistory.middle) return; // opened in the middle: it arrives with the newer pages
  const atBottom = roomHistory.nearBottom();
  upsert(frame.message);
  if (atBottom || (frame.message.user && frame.message.user.id === config.userId)) roomHistory.toBottom();
  roomHistory.markRead();
  if (frame.message.message_type === "system") loadMembers().catch(() => {});
});

// Read what arrived while the tab was hidden once it is shown.
document.addEventListener("visibilitychange", () => { if (!document.hidden) roomHistory.markRead(); });

live.on("message.updated", (frame) => {
  if (!forThisRoom(frame) || !inRoom(frame.message)) return;
  const old = state.byId.get(frame.message.id);
  // Broadcasts are the same for everyone; keep which reactions are mine.
  const mine = new Set(old ? old.reactions.filter((r) => r.me).map((r) => r.emoji) : []);
  upsert({ ...frame.message, reactions: frame.message.reactions.map((r) => ({ ...r, me: mine.has(r.emoji) })) });
  loadPinned().catch(() => {});
});

live.on("message.deleted", (frame) => {
  if (!forThisRoom(frame)) return;
  const old = state.byId.get(frame.message_id);
  if (!old) return;
  if (config.powers.delete_any) upsert({ ...old, is_deleted: true, content: "", html: "", reactions: [], attachments: [] });
  else drop(frame.message_id);
  loadPinned().catch(() => {});
});

live.on("reaction.updated", (frame) => {
  const old = state.byId.get(frame.message_id);
  if (!old || (frame.room_id && frame.room_id !== ROOM)) return;
  const mine = new Set(old.reactions.filter((r) => r.me).map((r) => r.emoji));
  upsert({ ...old, reactions: frame.reactions.map((r) => ({ ...r, me: mine.has(r.emoji) })) });
});

function clearTypist(name) {
  const timer = typists.get(name);
  if (timer) clearTimeout(timer);
  typists.delete(name);
  showTyping();
}

live.on("typing", (frame) => {
  if (frame.room_id !== ROOM || frame.user.id === config.userId) return;
  const name = frame.user.username;
  clearTypist(name);
  if (frame.state === "start") {
    typists.set(name, setTimeout(() => clearTypist(name), TYPING_TTL_MS));
    showTyping();
  }
});

live.on("presence", (frame) => {
  if (frame.room_id !== ROOM) return;
  setOnline(frame.online_count);
  const item = document.querySelector(`#members li[data-user-id="${CSS.escape(frame.user_id)}"]`);
  if (item) item.dataset.status = frame.status;
});

for (const type of ["member.joined", "member.left"]) {
  live.on(type, (frame) => {
    if (frame.room_id !== ROOM) return;
    if (type === "member.left" && frame.user.id === config.userId) {
      location.href = "/chat/"; // removed from the room: nothing more to see here
      return;
    }
    loadMembers().catch(() => {});
  });
}

live.on("ack", (frame) => {
  state.pending.delete(frame.client_id);
  if (frame.message.room_id === ROOM && inRoom(frame.message) && !roomHistory.middle) { upsert(frame.message); roomHistory.toBottom(); }
});

// A thread's new summary, or this user read a thread (here or in another tab).
for (const type of ["thread.updated", "thread.read"]) {
  live.on(type, (frame) => { if (frame.room_id === ROOM) refreshRoot(frame.root_id); });
}

// A send the server could not take just now (its database was not
// answering, or the socket sent too fast) is tried again after retry_after;
// its client_id makes sure it is stored once. Any other error drops it.
const RETRIED = new Set(["service_unavailable", "throttled"]);

live.on("error", (frame) => {
  const pending = frame.ref ? state.pending.get(frame.ref) : undefined;
  if (pending && RETRIED.has(frame.code) && typeof frame.retry_after === "number") {
    setTimeout(() => { if (state.pending.has(pending.client_id)) live.send(pending); }, frame.retry_after * 1000);
    showError(frame.message);
    return;
  }
  if (pending) state.pending.delete(frame.ref);
  if (frame.code === "resume_required" && frame.ref === ROOM) {
    const newest = roomHistory.newestCursor();
    live.send({ type: "resume", rooms: { [ROOM]: newest ? newest.cursor : null } });
    return;
  }
  showError(frame.message);
});

// Typing: "start" at most every TYPING_SEND_MS while keys are pressed, "stop"
// when the box empties or the message is sent (the composer empties it).
let lastTypingSent = 0;
text.addEventListener("input", () => {
  const now = Date.now();
  if (!text.value.trim()) {
    if (lastTypingSent) live.send({ type: "typing", room_id: ROOM, state: "stop" });
    lastTypingSent = 0;
  } else if (now - lastTypingSent > TYPING_SEND_MS) {
    if (live.send({ type: "typing", room_id: ROOM, state: "start" })) lastTypingSent = now;
  }
});


// Every handler above is attached: from here on, typing in the composer
// sends. (Browser tests wait for this before they type.)
document.getElementById("chat-room").dataset.ready = "true";
