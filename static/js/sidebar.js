// Live unread and mention counts on every page: the chat sidebar's badges
// (when the page has one), the "Chats" drawer button's total and the tab
// title ("(3) Home · Teamhub"). The socket's `ready` frame carries each
// room's counts; a `message.new` from someone else adds to them; the user's
// own `read` (in any tab), a deletion, a thread change or a room joined
// reads the exact counts again (GET /api/v1/unread). Text only.
import { live } from "./socket.js";
import { api } from "./chat-util.js";
import { gettext, number } from "./i18n.js";

const bar = document.getElementById("chat-sidebar");
const totalBadge = document.querySelector("[data-total-badge]");
const baseTitle = document.title.replace(/^\(\d+\+?\) /, "");
const counts = new Map(); // room_id -> {unread, mentions, kind}
let me = null;
// Presence as the reader's language says it (the codes stay English in data-status).
const STATUS = { online: gettext("online"), away: gettext("away"), offline: gettext("offline") };
let threads = null;

function currentRoom() {
  const m = location.pathname.match(/^\/chat\/rooms\/([0-9a-f-]{36})\//);
  return m ? m[1] : null;
}

function badge(node, n, prefix = "") {
  if (!node) return;
  node.textContent = `${prefix}${n > 99 ? `${number(99)}+` : number(n)}`;
  node.dataset.count = String(n);
  node.hidden = !n;
}

function show() {
  let total = 0;
  for (const [roomId, c] of counts) {
    total += c.unread;
    const row = bar?.querySelector(`[data-room-id="${roomId}"]`);
    if (!row) continue;
    badge(row.querySelector("[data-unread]"), c.unread);
    badge(row.querySelector("[data-mentions]"), c.mentions, "@");
    row.classList.toggle("has-unread", c.unread > 0);
  }
  if (bar) bar.dataset.total = String(total);
  badge(totalBadge, total);
  if (threads) badge(bar?.querySelector("[data-threads-badge]"), threads.unread);
  document.title = total ? `(${total > 99 ? "99+" : total}) ${baseTitle}` : baseTitle;
}

function setAll(rooms) {
  for (const c of counts.values()) { c.unread = 0; c.mentions = 0; }
  for (const r of rooms) {
    const id = r.room_id || r.id;
    const c = counts.get(id) || { kind: r.kind || "channel" };
    c.unread = r.unread || 0;
    c.mentions = r.mentions || 0;
    if (r.kind) c.kind = r.kind;
    counts.set(id, c);
  }
  show();
}

// Only the newest answer counts: an older one that comes back later is stale.
let generation = 0;
let timer = null;
async function refresh() {
  const mine = ++generation;
  try {
    const body = await api("GET", "unread");
    if (mine !== generation) return;
    threads = body.threads || threads;
    setAll(body.rooms);
  } catch (e) { /* offline for a moment: the next frame or ready tries again */ }
}
function soon() {
  clearTimeout(timer);
  timer = setTimeout(refresh, 150);
}

function row(room) {
  const link = document.createElement("a");
  link.href = `/chat/rooms/${encodeURIComponent(room.id)}/`;
  link.className = "sidebar-item";
  link.dataset.roomId = room.id;
  link.dataset.kind = room.kind;
  link.setAttribute("data-testid", room.kind === "channel" ? "sidebar-room" : "sidebar-dm");
  const name = document.createElement("span");
  name.className = "sidebar-name";
  name.textContent = room.kind === "channel" ? `#${room.name}`
    : (room.participants || []).map((p) => p.username).join(gettext(", ")) || gettext("Only you");
  link.append(name);
  for (const kind of room.kind === "channel" ? ["mentions", "unread"] : ["unread"]) {
    const span = document.createElement("span");
    span.className = kind;
    span.dataset[kind] = "";
    span.setAttribute("data-testid", `sidebar-${kind}`);
    span.hidden = true;
    link.append(" ", span);
  }
  const li = document.createElement("li");
  li.append(link);
  return li;
}

async function added(roomId) {
  if (!bar || bar.querySelector(`[data-room-id="${roomId}"]`)) return;
  try {
    const room = await api("GET", `rooms/${encodeURIComponent(roomId)}/`);
    const list = bar.querySelector(room.kind === "channel" ? "[data-testid=sidebar-channels]" : "[data-testid=sidebar-dms]");
    if (!list || bar.querySelector(`[data-room-id="${roomId}"]`)) return;
    list.querySelector(".sidebar-empty")?.remove();
    list.append(row(room));
    show();
  } catch (e) { /* not ours after all */ }
}

function removed(roomId) {
  counts.delete(roomId);
  bar?.querySelector(`[data-room-id="${roomId}"]`)?.closest("li")?.remove();
  show();
}

live.on("ready", (frame) => {
  me = frame.user && frame.user.id;
  setAll(frame.rooms || []);
  if (bar) bar.dataset.live = "true";
  soon(); // the threads' totals, which ready does not carry
});

live.on("message.new", (frame) => {
  const m = frame.message;
  if (!m || !me || m.message_type === "system" || m.is_deleted) return;
  if ((m.user && m.user.id) === me) return;
  if (m.thread_id && !m.also_to_room) return; // counted in its thread, not the room
  if (m.room_id === currentRoom() && !document.hidden) return; // this page reads it
  let c = counts.get(m.room_id);
  if (!c) {
    c = { unread: 0, mentions: 0, kind: "channel" };
    counts.set(m.room_id, c);
    added(m.room_id);
  }
  c.unread += 1;
  if (c.kind !== "channel" || (m.mentions || []).includes(me)) c.mentions += 1;
  show();
});

live.on("socket.closed", () => { if (bar) bar.dataset.live = "false"; });
live.on("read", (frame) => { if (me && frame.user_id === me) soon(); });
for (const type of ["message.deleted", "thread.updated", "thread.read"]) live.on(type, soon);
live.on("member.joined", (frame) => {
  if (me && frame.user && frame.user.id === me) { added(frame.room_id); soon(); }
});
live.on("member.left", (frame) => { if (me && frame.user && frame.user.id === me) removed(frame.room_id); });
live.on("room.deleted", (frame) => removed(frame.room_id));
live.on("presence", (frame) => {
  for (const person of bar?.querySelectorAll(`.person[data-user-id="${frame.user_id}"]`) || []) {
    person.dataset.status = frame.status;
    person.title = `${person.textContent}: ${STATUS[frame.status] || frame.status}`;
  }
});
// Coming back to the tab: the open room is read by its page; read again.
document.addEventListener("visibilitychange", () => { if (!document.hidden) soon(); });
