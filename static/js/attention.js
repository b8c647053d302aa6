// The room page's attention bits (issue 18), apart from the timeline's code:
// - a DND marker next to members' presence (#members li[data-dnd="1"]), from
//   the members API's `dnd` and kept live by "dnd" frames;
// - in a DM, the composer's warning that the other person is in DND.
// Text only (textContent): names are user data.
import { live } from "./socket.js";
import { api } from "./chat-util.js";
import { fmt, formatDate, gettext, ngettext } from "./i18n.js";
import "./dnd.js";

const config = JSON.parse(document.getElementById("chat-config").textContent);
const resting = new Map(); // user id -> {username, ends_at}
const members = document.getElementById("members");
const warning = document.getElementById("dnd-warning");

function mark() {
  for (const item of members?.querySelectorAll("li[data-user-id]") ?? []) {
    const on = resting.has(item.dataset.userId);
    if ((item.dataset.dnd === "1") !== on) item.dataset.dnd = on ? "1" : "0";
    item.title = on ? gettext("In do not disturb") : "";
  }
  // A DM's title names its people (links to their pages) beside their presence.
  for (const link of document.querySelectorAll('[data-testid="dm-title"] a.person')) {
    const id = link.getAttribute("href").split("/").filter(Boolean).pop();
    link.dataset.dnd = resting.has(id) ? "1" : "0";
  }
}

function when(iso) {
  if (!iso) return "";
  return formatDate(iso, { weekday: "short", hour: "2-digit", minute: "2-digit" });
}

function warn() {
  if (!warning) return;
  const others = [...resting.entries()].filter(([id]) => id !== config.userId).map(([, v]) => v);
  warning.hidden = others.length === 0;
  if (!others.length) return;
  warning.replaceChildren();
  // The sentence is translated whole; the names (user data) go in as <strong> text.
  const until = others.length === 1 && others[0].ends_at ? when(others[0].ends_at) : "";
  const sentence = until
    ? gettext("%(names)s is in do not disturb until %(until)s: they will see your message later, without a notification now.")
    : ngettext("%(names)s is in do not disturb: they will see your message later, without a notification now.",
      "%(names)s are in do not disturb: they will see your message later, without a notification now.", others.length);
  const [before, after] = sentence.split("%(names)s");
  if (before) warning.append(before);
  others.forEach((p, i) => {
    const b = document.createElement("strong");
    b.textContent = p.username;
    warning.append(...(i ? [gettext(", "), b] : [b]));
  });
  warning.append(fmt(after || "", { until }));
}

async function load() {
  try {
    const data = await api("GET", `rooms/${config.roomId}/members/?limit=100`);
    resting.clear();
    for (const m of data.results) if (m.dnd) resting.set(m.user.id, { username: m.user.username, ends_at: null });
  } catch { return; }
  mark();
  if (warning && resting.size === 0) warning.hidden = true;
}

live.on("dnd", (frame) => {
  const name = members?.querySelector(`li[data-user-id="${CSS.escape(frame.user_id)}"]`)?.dataset.user
    ?? resting.get(frame.user_id)?.username ?? "";
  if (frame.active) resting.set(frame.user_id, { username: name, ends_at: frame.ends_at });
  else resting.delete(frame.user_id);
  mark();
  warn();
});

if (members) new MutationObserver(mark).observe(members, { childList: true });
live.on("ready", load);
