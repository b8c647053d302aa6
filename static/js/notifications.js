// The nav bar's unread-notification badge, kept live over the page's one
// /ws/ socket (socket.js opens it on first use and reconnects). The server
// renders the starting count; frames then move it:
//   {type: "notification", notification: {...}}      a new one: +1 when unread
//   {type: "notifications.unread", unread: <count>}   after reads in any tab: exact
// Text only (textContent, never innerHTML): titles and messages are user data.
import { live } from "./socket.js";
import { gettext, number } from "./i18n.js";

const CAP = 99; // the server counts up to CAP + 1 and shows "99+" beyond (accounts/notifications.py)
const badge = document.getElementById("notification-badge");
const list = document.querySelector('[data-testid="notifications"]');

function count() {
  return Number.parseInt(badge?.dataset.count ?? "0", 10) || 0;
}

function show(n) {
  if (!badge) return;
  n = Math.max(0, Math.trunc(n) || 0);
  badge.dataset.count = String(n);
  badge.textContent = n > CAP ? `${number(CAP)}+` : number(n);
  badge.hidden = n === 0;
}

// Only links within this site (the server stores paths like /jobs/<id>/).
function safePath(url) {
  return typeof url === "string" && url.startsWith("/") && !url.startsWith("//") ? url : null;
}

// On the notifications page, show a new one at the top of the inbox at once;
// its buttons come with the next load of the page.
function prepend(n) {
  if (!list || new URLSearchParams(location.search).get("show") === "archived") return;
  list.querySelector('[data-testid="no-notifications"]')?.remove();
  const item = document.createElement("li");
  item.className = `notification unread priority-${String(n.priority || "normal").replace(/[^a-z]/g, "")}`;
  item.dataset.notificationId = String(n.id ?? "");
  item.dataset.type = String(n.type ?? "");
  const head = document.createElement("div");
  head.className = "notification-head";
  const mark = document.createElement("span");
  mark.className = "badge";
  mark.textContent = gettext("new");
  const title = document.createElement("strong");
  title.className = "notification-title";
  const path = safePath(n.url);
  if (path) {
    const link = document.createElement("a");
    link.href = path;
    link.textContent = String(n.title ?? "");
    title.append(link);
  } else {
    title.textContent = String(n.title ?? "");
  }
  head.append(mark, title);
  item.append(head);
  if (n.message) {
    const text = document.createElement("p");
    text.className = "notification-message";
    text.textContent = String(n.message);
    item.append(text);
  }
  list.prepend(item);
}

live.on("notification", (frame) => {
  const n = frame?.notification;
  if (!n || n.is_read || n.is_archived) return;
  show(count() + 1);
  prepend(n);
  // Other scripts on the page (a room, a job) may react to their own kinds.
  document.dispatchEvent(new CustomEvent("teamhub:notification", { detail: n }));
});

live.on("notifications.unread", (frame) => {
  if (typeof frame?.unread === "number") show(frame.unread);
});

// After a reconnect, frames sent while the socket was down are gone: read
// the count again (one capped page of unread ids; the first "ready" needs
// nothing, the page was just rendered with the count).
let connectedBefore = false;
live.on("ready", async () => {
  if (!connectedBefore) {
    connectedBefore = true;
    return;
  }
  try {
    const response = await fetch(`/api/v1/notifications/?unread=1&limit=${CAP + 1}`, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) return;
    const body = await response.json();
    if (Array.isArray(body.results)) show(body.next ? CAP + 1 : body.results.length);
  } catch (e) {
    // Offline again: the next "ready" tries once more.
  }
});
