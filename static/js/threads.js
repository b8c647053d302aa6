// On every chat page: the nav's "Threads" badge, the unread replies over the
// threads this user follows (GET /api/v1/unread's `threads`), and on the
// "Threads" page its list (unread first). Both are fetched again when a
// thread changes: `thread.updated` (a reply in a room this user is in) or
// `thread.read` (this user read or (un)followed a thread, in any tab).
// Text only (textContent): contents and names are user data.

import { live } from "./socket.js";
import { api } from "./chat-util.js";
import { fmt, gettext, ngettext, number } from "./i18n.js";

const badge = document.getElementById("threads-badge");
const list = document.getElementById("thread-list");

function showBadge(n) {
  if (!badge) return;
  badge.textContent = n > 99 ? `${number(99)}+` : number(n);
  badge.dataset.count = String(n);
  badge.hidden = n === 0;
}

function item(t) {
  const li = document.createElement("li");
  li.className = `thread-item${t.unread ? " has-unread" : ""}`;
  li.dataset.rootId = t.root.id;
  li.dataset.testid = "thread-item";
  li.setAttribute("data-testid", "thread-item");
  const link = document.createElement("a");
  link.className = "thread-link";
  link.href = `/chat/rooms/${encodeURIComponent(t.room.id)}/?thread=${encodeURIComponent(t.root.id)}`;
  const where = document.createElement("span");
  where.className = "thread-room";
  where.textContent = t.room.kind === "channel" ? `#${t.room.name}` : gettext("Direct message");
  const root = document.createElement("span");
  root.className = "thread-root";
  if (t.root.is_deleted) {
    const em = document.createElement("em");
    em.textContent = gettext("Message removed");
    root.append(em);
  } else {
    const who = document.createElement("strong");
    who.textContent = t.root.user ? t.root.user.username : "?";
    const content = t.root.content.length > 140 ? `${t.root.content.slice(0, 139)}…` : t.root.content;
    root.append(who, document.createTextNode(`: ${content}`));
  }
  link.append(where, root);
  const count = document.createElement("span");
  count.className = "muted";
  count.textContent = fmt(ngettext("%(count)s reply", "%(count)s replies", t.reply_count), { count: t.reply_count });
  li.append(link, " ", count);
  if (t.unread) {
    const unread = document.createElement("span");
    unread.className = "unread";
    unread.setAttribute("data-testid", "thread-item-unread");
    unread.textContent = number(t.unread);
    li.append(" ", unread);
  }
  if (t.mentions) {
    const mentions = document.createElement("span");
    mentions.className = "mentions";
    mentions.textContent = `@${t.mentions}`;
    li.append(" ", mentions);
  }
  return li;
}

// Only the newest refresh's answers are shown: an older one that comes back
// later (the page's first load on a cold server) would show stale counts.
let generation = 0;

async function refresh() {
  const mine = ++generation;
  try {
    const unread = await api("GET", "unread");
    if (mine !== generation) return;
    showBadge(unread.threads.unread);
    if (list) {
      const page = await api("GET", "threads/?limit=100");
      if (mine !== generation) return;
      // Unread first, then latest activity (the API's order).
      const sorted = [...page.results.filter((t) => t.unread), ...page.results.filter((t) => !t.unread)];
      if (sorted.length) list.replaceChildren(...sorted.map(item));
    }
  } catch (e) { /* offline for a moment: the next change refreshes */ }
}

let timer = null;
function soon() {
  clearTimeout(timer);
  timer = setTimeout(refresh, 200);
}

for (const type of ["thread.updated", "thread.read", "ready"]) live.on(type, soon);
refresh();
