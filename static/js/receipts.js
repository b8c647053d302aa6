// Read receipts on the room page, kept live by the socket's "read" frames
// (which the server sends to the other members only where receipts exist):
// in a DM, "Seen" under the newest of my messages the other person has read;
// in a group DM or a small room, the readers' avatars under the message each
// has read up to, and a click lists who read it (GET .../receipts).
// The timeline belongs to chat-room.js; this module only adds a line to the
// messages it shows, and redraws when the timeline changes.

import { live } from "./socket.js";
import { api, el, timeLabel } from "./chat-util.js";
import { fmt, gettext, number } from "./i18n.js";

const config = JSON.parse(document.getElementById("receipts-config").textContent);
const timeline = document.getElementById("timeline");
const popover = document.getElementById("receipts-popover");
const list = document.getElementById("receipts-list");
const MAX_AVATARS = 5;

// user id -> {user, message_id}
const cursors = new Map(config.cursors.map((c) => [c.user.id, c]));
const users = new Map(config.cursors.map((c) => [c.user.id, c.user]));

function messageNode(id) {
  return timeline.querySelector(`li[data-id="${CSS.escape(id)}"]`);
}

// chat-message.js marks each message with its author's id.
function mine(li) {
  return li.dataset.userId === config.userId;
}

// A receipts line goes under the message's text (its body), not beside the avatar.
function bodyOf(li) {
  return li.querySelector(":scope > .msg-body") || li;
}

function avatar(user) {
  const name = user ? user.username : "?";
  if (user && user.avatar_url) return el("img", { class: "receipt-avatar", src: user.avatar_url, alt: name, title: name });
  return el("span", { class: "receipt-avatar", title: name, "aria-label": name }, name.slice(0, 1).toUpperCase());
}

function drawDm() {
  const [cursor] = cursors.values();
  if (!cursor) return;
  const upTo = messageNode(cursor.message_id);
  if (!upTo) return;
  let target = null;
  for (const li of timeline.children) {
    if (mine(li)) target = li;
    if (li === upTo) break;
  }
  if (target) bodyOf(target).append(el("div", { class: "receipts-line seen", "data-testid": "seen" }, gettext("Seen")));
}

function drawReaders() {
  const byMessage = new Map();
  for (const c of cursors.values()) {
    if (!messageNode(c.message_id)) continue;
    if (!byMessage.has(c.message_id)) byMessage.set(c.message_id, []);
    byMessage.get(c.message_id).push(users.get(c.user.id) || c.user);
  }
  for (const [messageId, readers] of byMessage) {
    const shown = readers.slice(0, MAX_AVATARS).map(avatar);
    const more = readers.length > MAX_AVATARS ? el("span", { class: "muted" }, `+${number(readers.length - MAX_AVATARS)}`) : null;
    bodyOf(messageNode(messageId)).append(el("div", { class: "receipts-line" },
      el("button", { type: "button", class: "receipt-avatars", "data-testid": "receipt-avatars",
        "aria-label": fmt(gettext("Read by %(names)s"), { names: readers.map((u) => u.username).join(gettext(", ")) }),
        on: { click: (event) => openList(messageId, event.currentTarget) } }, shown, more)));
  }
}

let scheduled = false;
function draw() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    for (const line of timeline.querySelectorAll(".receipts-line")) line.remove();
    if (config.kind === "dm") drawDm(); else drawReaders();
  });
}

async function openList(messageId, anchor) {
  list.replaceChildren(el("li", { class: "muted" }, gettext("Loading…")));
  popover.hidden = false;
  const box = anchor.getBoundingClientRect();
  popover.style.top = `${window.scrollY + box.bottom + 4}px`;
  popover.style.left = `${Math.max(8, Math.min(window.scrollX + box.left, window.scrollX + document.documentElement.clientWidth - popover.offsetWidth - 8))}px`;
  try {
    const found = await api("GET", `messages/${messageId}/receipts`);
    list.replaceChildren(...(found.read_by.length ? found.read_by.map((r) => el("li", { "data-testid": "receipt" },
      avatar(r.user), " ", el("strong", {}, r.user.username), " ", el("time", { class: "muted", datetime: r.read_at }, timeLabel(r.read_at))))
      : [el("li", { class: "muted" }, gettext("Nobody yet."))]));
  } catch (e) {
    list.replaceChildren(el("li", { class: "errorlist" }, e.message));
  }
}

document.getElementById("receipts-close").addEventListener("click", () => { popover.hidden = true; });
document.addEventListener("keydown", (event) => { if (event.key === "Escape") popover.hidden = true; });
document.addEventListener("click", (event) => {
  if (!popover.hidden && !popover.contains(event.target) && !event.target.closest(".receipt-avatars")) popover.hidden = true;
});

async function learnUser(userId, messageId) {
  if (users.has(userId)) return;
  try {
    const found = await api("GET", `messages/${messageId}/receipts`);
    for (const r of found.read_by) users.set(r.user.id, r.user);
  } catch (e) { /* the frame's reader stays unnamed until the page reloads */ }
}

if (config.enabled) {
  live.on("read", async (frame) => {
    if (frame.room_id !== config.roomId || frame.user_id === config.userId) return;
    await learnUser(frame.user_id, frame.message_id);
    const user = users.get(frame.user_id) || { id: frame.user_id, username: "?", avatar_url: null };
    cursors.set(frame.user_id, { user, message_id: frame.message_id });
    draw();
  });
  new MutationObserver(draw).observe(timeline, { childList: true });
  draw();
}
