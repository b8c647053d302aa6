// One message as the room timeline and the thread panel show it: avatar,
// author, relative time (exact on hover), the server-rendered markdown,
// mentions (the reader's own stands out), "(edited)" with its history on
// click, attachments and reactions. Consecutive messages by one author within
// GROUP_MS are grouped (regroup), a "new messages" divider marks the first unread.
//
// The only HTML inserted is the message's `html` field: rendered from
// markdown and sanitized by nh3 on the server (chatroom/markdown.py). Every
// other piece of user text goes in as text nodes.

import { size } from "./figures.js";
import { api, avatarNode, clockTime, el, exactTime, timeLabel, timeNode } from "./chat-util.js";
import { gettext } from "./i18n.js";

const GROUP_MS = 5 * 60 * 1000;
const SELF_MENTIONS = new Set(["all", "here", "everyone"]);

// The sanitized HTML of a message as nodes, own mentions marked.
export function contentNode(m, me) {
  const box = el("div", { class: "msg-text", "data-testid": "message-content" });
  const template = document.createElement("template");
  template.innerHTML = m.html !== undefined ? m.html : "";
  if (m.html === undefined) box.textContent = m.content; // an older server: plain text
  else box.append(template.content);
  const mine = (me || "").toLowerCase();
  for (const span of box.querySelectorAll("span.mention")) {
    const name = span.dataset.mention || "";
    if (name === mine || SELF_MENTIONS.has(name)) span.classList.add("me");
  }
  return box;
}

function attachmentsNode(m) {
  if (!m.attachments.length) return null;
  return el("div", { class: "attachments", "data-testid": "attachments" }, m.attachments.map((a) => a.mime_type.startsWith("image/")
    ? el("a", { href: a.url, target: "_blank", rel: "noopener", class: "attachment-image" },
      el("img", { src: a.url, alt: a.filename, width: Math.min(a.width || 240, 240), loading: "lazy" }))
    : el("a", { href: a.url, download: a.filename, class: "file", "data-testid": "attachment" }, `📎 ${a.filename} (${size(a.size)})`)));
}

async function toggleHistory(m, node, button) {
  const old = node.querySelector(".history");
  if (old) { old.remove(); button.setAttribute("aria-expanded", "false"); return; }
  try {
    const data = await api("GET", `messages/${m.id}/history`);
    const list = el("ol", { class: "history", "data-testid": "edit-history", "aria-label": gettext("Earlier versions") },
      data.results.map((v) => el("li", {}, el("time", { datetime: v.edited_at, title: exactTime(v.edited_at) }, timeLabel(v.edited_at)), " ", v.content)));
    if (!data.results.length) list.append(el("li", {}, gettext("No earlier versions.")));
    node.querySelector(".msg-body").append(list);
    button.setAttribute("aria-expanded", "true");
  } catch (e) {
    button.title = e.message;
  }
}

// opts: { me: username, userId, actions: [nodes] | null, reactions: (m) => node | null,
//         extraHead: [nodes], after: [nodes], testid }
export function renderMessage(m, opts = {}) {
  const tag = opts.tag || "li";
  const node = el(tag, {
    class: `msg msg-${m.message_type}${m.is_deleted ? " deleted" : ""}${m.mentions.includes(opts.userId) ? " mentions-me" : ""}`,
    "data-id": m.id, "data-user-id": m.user ? m.user.id : "", "data-testid": opts.testid || "message",
  });
  if (m.message_type === "system") {
    node.append(el("span", { class: "system-text" }, m.content), " ", timeNode(m.created_at, { class: "muted" }));
    return node;
  }
  const edited = m.is_edited && !m.is_deleted
    ? el("button", { type: "button", class: "link muted edited", "data-testid": "edited", "aria-expanded": "false",
      title: gettext("Show the earlier versions"), on: { click: (event) => toggleHistory(m, node, event.currentTarget) } }, gettext("(edited)"))
    : null;
  const body = el("div", { class: "msg-body" },
    el("div", { class: "msg-head" },
      el("strong", { class: "author" }, m.user ? m.user.username : "?"), " ",
      timeNode(m.created_at, { class: "muted msg-time" }),
      m.is_pinned ? el("span", { class: "badge" }, gettext("pinned")) : null, ...(opts.extraHead || [])));
  if (m.reply_to) {
    body.append(el("blockquote", { class: "reply-quote", "data-testid": "reply-quote" },
      el("strong", {}, m.reply_to.user ? m.reply_to.user.username : "?"), ": ",
      m.reply_to.is_deleted ? el("em", {}, gettext("message removed")) : m.reply_to.excerpt));
  }
  if (m.is_deleted) {
    body.append(el("p", { class: "msg-text muted" }, el("em", {}, gettext("This message was removed."))));
  } else {
    // (append() would write a null as the text "null")
    const content = contentNode(m, opts.me);
    // "(edited)" ends the text (as in Slack), so it shows in a grouped message too.
    if (edited) {
      const last = content.lastElementChild;
      (last && last.tagName === "P" ? last : content).append(" ", edited);
    }
    for (const part of [content, attachmentsNode(m), opts.reactions ? opts.reactions(m) : null]) if (part) body.append(part);
  }
  for (const extra of opts.after || []) if (extra) body.append(extra);
  if (opts.actions && !m.is_deleted) body.prepend(el("div", { class: "msg-actions" }, opts.actions)); // floats right (chat.css)
  node.append(el("div", { class: "msg-gutter" }, avatarNode(m.user),
    el("time", { class: "gutter-time muted", datetime: m.created_at, title: exactTime(m.created_at) },
      clockTime(m.created_at))), body);
  return node;
}

// Mark each message that continues its author's run (same author, within
// GROUP_MS of the previous one, nothing between them) as grouped.
export function regroup(list, byId) {
  let prev = null;
  for (const child of list.children) {
    const m = byId.get(child.dataset.id);
    if (!m) { prev = null; continue; } // a divider breaks a run
    const grouped = Boolean(prev && m.user && prev.user && prev.user.id === m.user.id
      && m.message_type !== "system" && prev.message_type !== "system" && !m.reply_to
      && new Date(m.created_at) - new Date(prev.created_at) < GROUP_MS);
    child.classList.toggle("grouped", grouped);
    prev = m;
  }
}

// The "new messages" divider before the first message after the read cursor
// ({id, at}) that is not the reader's own; none when everything is read.
export function placeDivider(list, byId, lastRead, userId) {
  list.querySelector(".unread-divider")?.remove();
  if (!lastRead || !lastRead.at) return null;
  const readAt = new Date(lastRead.at).getTime();
  let passed = !list.querySelector(`li[data-id="${CSS.escape(lastRead.id || "")}"]`);
  for (const child of list.children) {
    const m = byId.get(child.dataset.id);
    if (!m) continue;
    if (m.id === lastRead.id) { passed = true; continue; }
    const after = passed && new Date(m.created_at).getTime() >= readAt;
    if (!after || (m.user && m.user.id === userId)) continue;
    const divider = el("li", { class: "unread-divider", "data-testid": "unread-divider", role: "separator" }, el("span", {}, gettext("New messages")));
    list.insertBefore(divider, child);
    return divider;
  }
  return null;
}
