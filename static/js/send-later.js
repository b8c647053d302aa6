// "Send later" in the room's composer: quick choices (in 1 hour, tomorrow at
// 9:00) and a date-time picker, all read in the user's profile time zone
// (data-timezone), not the browser's. Scheduling POSTs the composer's text to
// /api/v1/scheduled-messages/ and clears the composer; the list lives at
// /chat/scheduled/.

import { api, el } from "./chat-util.js";
import { LANG, fmt, gettext } from "./i18n.js";

const root = document.getElementById("send-later");
const toggle = document.getElementById("send-later-toggle");
const menu = document.getElementById("send-later-menu");
const picker = document.getElementById("send-later-at");
const out = document.getElementById("send-later-out");
const text = document.getElementById("composer-text");
const ROOM = root.dataset.roomId;
const ZONE = root.dataset.timezone || "UTC";

// The wall-clock fields of an instant in ZONE.
function partsIn(ms) {
  const fields = {};
  const format = new Intl.DateTimeFormat("en-US", { timeZone: ZONE, hourCycle: "h23", year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  for (const p of format.formatToParts(new Date(ms))) if (p.type !== "literal") fields[p.type] = Number(p.value);
  return fields;
}

function offsetAt(ms) {
  const p = partsIn(ms);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(ms / 1000) * 1000;
}

// The instant at which ZONE's clock shows this wall time (the offset is
// checked again at the result, so a DST change in between is right).
export function zonedToInstant(year, month, day, hour, minute) {
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  let guess = wall - offsetAt(wall);
  guess = wall - offsetAt(guess);
  return new Date(guess);
}

function tomorrowAtNine() {
  const p = partsIn(Date.now());
  const next = new Date(Date.UTC(p.year, p.month - 1, p.day + 1));
  return zonedToInstant(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), 9, 0);
}

function label(date) {
  return new Intl.DateTimeFormat(LANG, { timeZone: ZONE, weekday: "short", day: "numeric", month: "short",
    hour: "2-digit", minute: "2-digit" }).format(date);
}

function pickerValue(ms) {
  const p = partsIn(ms);
  const two = (n) => String(n).padStart(2, "0");
  return `${p.year}-${two(p.month)}-${two(p.day)}T${two(p.hour)}:${two(p.minute)}`;
}

function choice(kind) {
  if (kind === "hour") return new Date(Date.now() + 3600 * 1000);
  if (kind === "tomorrow") return tomorrowAtNine();
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(picker.value || "");
  return match ? zonedToInstant(...match.slice(1).map(Number)) : null;
}

function setOpen(open) {
  menu.hidden = !open;
  toggle.setAttribute("aria-expanded", String(open));
  if (!open) return;
  menu.querySelector('[data-label="hour"]').textContent = label(choice("hour"));
  menu.querySelector('[data-label="tomorrow"]').textContent = label(choice("tomorrow"));
  picker.min = pickerValue(Date.now());
  if (!picker.value) picker.value = pickerValue(Date.now() + 3600 * 1000);
}

function say(message, link) {
  out.replaceChildren(message, link ? " " : "", link || "");
}

async function schedule(kind) {
  const when = choice(kind);
  const content = text.value.trim();
  if (!content) { say(gettext("Write the message first, then choose when to send it.")); return; }
  if (!when) { say(gettext("Pick a date and a time.")); return; }
  try {
    await api("POST", "scheduled-messages/", { room_id: ROOM, content, send_at: when.toISOString() });
  } catch (e) {
    say(e.message);
    return;
  }
  text.value = "";
  text.dispatchEvent(new Event("input", { bubbles: true }));
  setOpen(false);
  say(fmt(gettext("Scheduled for %(when)s."), { when: label(when) }), el("a", { href: "/chat/scheduled/", "data-testid": "scheduled-view" }, gettext("View scheduled")));
}

toggle.addEventListener("click", () => setOpen(menu.hidden));
for (const button of menu.querySelectorAll("[data-choice]")) button.addEventListener("click", () => schedule(button.dataset.choice));
document.getElementById("send-later-custom").addEventListener("click", () => schedule("custom"));
document.addEventListener("keydown", (event) => { if (event.key === "Escape" && !menu.hidden) setOpen(false); });
document.addEventListener("click", (event) => { if (!menu.hidden && !root.contains(event.target)) setOpen(false); });
