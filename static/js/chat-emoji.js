// The emoji picker: the full Unicode set from /chat/emoji.json (built from
// the pinned `emoji` package, chatroom/emoji_data.py), loaded once on first
// open, with search by name and alias and a row of recently used ones
// (localStorage). One picker per page, opened next to a button for the
// composer (insert into the text) or for a reaction (react).
//
//   openEmojiPicker(anchorButton, (emoji) => { ... })

import { el } from "./chat-util.js";
import { gettext } from "./i18n.js";

const RECENT_KEY = "teamhub.emoji.recent";
const RECENT_MAX = 16;
const SHOWN_MAX = 400; // matches shown at once while searching; the full list renders in chunks

let data = null;
let picker = null;
let onPick = null;
let anchor = null;

async function load() {
  if (!data) {
    const response = await fetch("/chat/emoji.json", { credentials: "same-origin" });
    if (!response.ok) throw new Error(gettext("The emoji list could not be loaded."));
    data = (await response.json()).emoji.map(([emoji, name, aliases]) => ({ emoji, name, search: [name, ...aliases].join(" ").toLowerCase() }));
  }
  return data;
}

function recent() {
  try { return JSON.parse(localStorage.getItem(RECENT_KEY)) || []; } catch (e) { return []; }
}

function remember(emoji) {
  const list = [emoji, ...recent().filter((e) => e !== emoji)].slice(0, RECENT_MAX);
  try { localStorage.setItem(RECENT_KEY, JSON.stringify(list)); } catch (e) { /* private mode */ }
}

function button(item) {
  return el("button", { type: "button", class: "emoji-option", role: "option", title: item.name, "aria-label": item.name,
    "data-emoji": item.emoji, "data-testid": "emoji-option" }, item.emoji);
}

function show(grid, items) {
  grid.replaceChildren();
  // Rendered in chunks so the first rows appear at once.
  let i = 0;
  const chunk = () => {
    const part = items.slice(i, i + 300);
    grid.append(...part.map(button));
    i += part.length;
    if (i < items.length && grid.isConnected) requestAnimationFrame(chunk);
  };
  chunk();
  if (!items.length) grid.append(el("p", { class: "muted emoji-none" }, gettext("No emoji match.")));
}

function build() {
  const search = el("input", { type: "search", class: "emoji-search", placeholder: gettext("Search emoji"), "aria-label": gettext("Search emoji"), "data-testid": "emoji-search" });
  const recentRow = el("div", { class: "emoji-grid emoji-recent", role: "listbox", "aria-label": gettext("Recently used") });
  const grid = el("div", { class: "emoji-grid", role: "listbox", "aria-label": gettext("Emoji"), "data-testid": "emoji-grid" });
  const node = el("div", { class: "emoji-picker", role: "dialog", "aria-label": gettext("Pick an emoji"), "data-testid": "emoji-picker", hidden: true },
    search, recentRow, grid);
  search.addEventListener("input", async () => {
    const q = search.value.trim().toLowerCase();
    const all = await load();
    recentRow.hidden = Boolean(q);
    show(grid, q ? all.filter((item) => item.search.includes(q)).slice(0, SHOWN_MAX) : all);
  });
  node.addEventListener("click", (event) => {
    const option = event.target.closest(".emoji-option");
    if (!option) return;
    const emoji = option.dataset.emoji;
    remember(emoji);
    const pick = onPick;
    closeEmojiPicker();
    if (pick) pick(emoji);
  });
  node.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { event.preventDefault(); closeEmojiPicker(); }
  });
  document.addEventListener("mousedown", (event) => {
    if (!node.hidden && !node.contains(event.target) && event.target !== anchor && !anchor?.contains(event.target)) closeEmojiPicker();
  });
  document.body.append(node);
  return node;
}

function place(node, target) {
  const rect = target.getBoundingClientRect();
  const width = Math.min(340, window.innerWidth - 16);
  node.style.width = `${width}px`;
  const left = Math.max(8, Math.min(rect.left + window.scrollX, window.scrollX + window.innerWidth - width - 8));
  node.style.left = `${left}px`;
  const height = 320;
  const above = rect.top > height + 16;
  node.style.top = `${(above ? rect.top - height - 6 : rect.bottom + 6) + window.scrollY}px`;
}

export async function openEmojiPicker(target, pick) {
  if (!picker) picker = build();
  if (!picker.hidden && anchor === target) { closeEmojiPicker(); return; }
  anchor = target;
  onPick = pick;
  target.setAttribute("aria-expanded", "true");
  place(picker, target);
  picker.hidden = false;
  const search = picker.querySelector(".emoji-search");
  search.value = "";
  const recentRow = picker.querySelector(".emoji-recent");
  const used = recent();
  recentRow.hidden = !used.length;
  recentRow.replaceChildren(...used.map((emoji) => button({ emoji, name: emoji })));
  search.focus({ preventScroll: true });
  try {
    show(picker.querySelector(".emoji-grid:not(.emoji-recent)"), await load());
    picker.dataset.ready = "true";
  } catch (e) {
    picker.querySelector(".emoji-grid:not(.emoji-recent)").replaceChildren(el("p", { class: "errorlist" }, e.message));
  }
}

export function closeEmojiPicker() {
  if (!picker || picker.hidden) return;
  picker.hidden = true;
  onPick = null;
  if (anchor) { anchor.setAttribute("aria-expanded", "false"); anchor.focus(); }
  anchor = null;
}
