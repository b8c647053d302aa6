// The "jump to" quick switcher: Ctrl-K (Cmd-K on a Mac) or the sidebar's
// "Jump to…" button opens a dialog over any page; typing filters the user's
// rooms and DMs (GET /api/v1/rooms/?scope=mine, read once per page) by a
// fuzzy match, arrows move, Enter opens, Escape closes (the <dialog>'s own
// cancel) and focus goes back where it was. Names are shown as text only.
import { api } from "./chat-util.js";
import { gettext } from "./i18n.js";

const dialog = document.getElementById("switcher");
const input = document.getElementById("switcher-input");
const list = document.getElementById("switcher-list");
let rooms = null; // [{id, label, kind}]
let shown = [];
let active = 0;
let opener = null;
let enterWhileLoading = false; // Enter typed before the list came: open the best match when it does

async function load() {
  if (rooms) return rooms;
  const found = [];
  let cursor = null;
  for (let pages = 0; pages < 10; pages++) {
    const page = await api("GET", `rooms/?scope=mine&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    for (const r of page.results) {
      const label = r.kind === "channel" ? `#${r.name}`
        : (r.participants || []).map((p) => p.username).join(gettext(", ")) || gettext("Only you");
      found.push({ id: r.id, label, kind: r.kind });
    }
    cursor = page.next;
    if (!cursor) break;
  }
  rooms = found;
  return rooms;
}

// A subsequence match, scored: consecutive letters and a match at the start
// of the name or of a word rank higher; null when the letters are not there.
export function score(query, text) {
  const q = query.toLowerCase().replace(/\s+/g, "");
  const t = text.toLowerCase();
  if (!q) return 0;
  let at = 0, total = 0, run = 0;
  for (const ch of q) {
    const found = t.indexOf(ch, at);
    if (found < 0) return null;
    run = found === at ? run + 1 : 0;
    total += 1 + run * 2 + (found === 0 || /[\s#,_-]/.test(t[found - 1]) ? 3 : 0) - Math.min(found - at, 5) * 0.1;
    at = found + 1;
  }
  return total - t.length * 0.01;
}

function render() {
  const q = input.value.trim();
  const matches = (rooms || [])
    .map((r) => ({ r, s: score(q, r.label) }))
    .filter((m) => m.s !== null)
    .sort((a, b) => b.s - a.s || a.r.label.localeCompare(b.r.label));
  shown = matches.slice(0, 30).map((m) => m.r);
  active = Math.min(active, Math.max(shown.length - 1, 0));
  list.replaceChildren(...shown.map((r, i) => {
    const li = document.createElement("li");
    li.id = `switcher-opt-${i}`;
    li.setAttribute("role", "option");
    li.setAttribute("aria-selected", String(i === active));
    li.dataset.testid = "switcher-option";
    li.setAttribute("data-testid", "switcher-option");
    li.className = "switcher-option";
    const name = document.createElement("span");
    name.textContent = r.label;
    const kind = document.createElement("span");
    kind.className = "muted";
    kind.textContent = r.kind === "channel" ? gettext("room") : r.kind === "dm" ? gettext("direct message") : gettext("group");
    li.append(name, kind);
    li.addEventListener("mousedown", (e) => { e.preventDefault(); go(r); });
    return li;
  }));
  if (!shown.length) {
    const li = document.createElement("li");
    li.className = "muted switcher-empty";
    li.textContent = rooms ? gettext("No room or person matches.") : gettext("Loading…");
    list.append(li);
  }
  input.setAttribute("aria-activedescendant", shown.length ? `switcher-opt-${active}` : "");
  list.querySelector('[aria-selected="true"]')?.scrollIntoView({ block: "nearest" });
}

function go(room) {
  location.assign(`/chat/rooms/${encodeURIComponent(room.id)}/`);
}

async function open() {
  if (!dialog || dialog.open) return;
  opener = document.activeElement;
  input.value = "";
  active = 0;
  enterWhileLoading = false;
  dialog.showModal();
  input.focus();
  render();
  try { await load(); } catch (e) { rooms = rooms || []; }
  render();
  if (enterWhileLoading && shown[active]) go(shown[active]);
  enterWhileLoading = false;
}

function close() {
  if (dialog.open) dialog.close();
}

if (dialog) {
  // The shortcut as the keyboard says it.
  if (/Mac|iPhone|iPad/.test(navigator.platform || "")) {
    for (const kbd of document.querySelectorAll("[data-switcher-open] kbd")) kbd.textContent = "⌘K";
  }
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && !e.altKey && (e.key === "k" || e.key === "K")) {
      e.preventDefault();
      if (dialog.open) close(); else open();
    }
  });
  for (const button of document.querySelectorAll("[data-switcher-open]")) button.addEventListener("click", open);
  input.addEventListener("input", () => { active = 0; render(); });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (!shown.length) return;
      active = (active + (e.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length;
      render();
    } else if (e.key === "Enter") {
      // Enter that picks a Chinese, Japanese or Korean word in an IME opens nothing.
      if (e.isComposing || e.keyCode === 229) return;
      e.preventDefault();
      if (shown[active]) go(shown[active]);
      else if (!rooms) enterWhileLoading = true;
    }
  });
  // A click on the backdrop (the dialog itself, outside its box) closes it.
  dialog.addEventListener("click", (e) => { if (e.target === dialog) close(); });
  dialog.addEventListener("close", () => { if (opener && opener.focus) opener.focus(); });
}
