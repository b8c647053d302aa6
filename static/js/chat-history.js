// A room's history in its timeline: the newest page, or the page around a
// message (?around=<id>: a notification, a search hit, a pin), highlighted;
// older pages load on scroll up and, when opened in the middle, newer ones on
// scroll down ("next" stays set until the live end is reached, and live
// messages wait till then); "Jump to the latest" goes back to the live end.
// While the socket is down, poll() follows the room through the API.
// The read cursor moves only while the newest messages are shown.
import { api, newestOf } from "./chat-util.js";
import { fmt, gettext } from "./i18n.js";
import { placeDivider } from "./chat-message.js";

const PAGE = 50;
const EDGE_PX = 150; // how near the top or bottom a scroll loads the next page

// opts: { roomId, userId, lastRead: {id, at}, timeline, byId, upsert, drop, showError, loadEarlier, jumpLatest }
export function createHistory(opts) {
  const { roomId, userId, lastRead, timeline, byId, upsert, drop, showError, loadEarlier, jumpLatest } = opts;
  const h = { prev: null, next: null, loading: false, lastRead: null };

  function newestCursor() {
    return newestOf(byId);
  }

  function nearBottom() {
    return timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 80;
  }

  function toBottom() {
    timeline.scrollTop = timeline.scrollHeight;
  }

  async function markRead() {
    if (h.next) return; // the newest messages are not shown yet
    const newest = newestCursor();
    if (!newest || newest.id === h.lastRead || document.hidden) return;
    h.lastRead = newest.id;
    try {
      await api("POST", `rooms/${roomId}/read`, { message_id: newest.id });
    } catch (e) {
      // Not marked: let the next call (a new message, the next poll) try again.
      if (h.lastRead === newest.id) h.lastRead = null;
    }
  }

  // The message to open at: ?around=<id> (a notification, a search hit, a pin),
  // unless it names a thread reply, which the thread panel shows.
  function aroundTarget() {
    const params = new URLSearchParams(location.search);
    return params.get("thread") ? null : params.get("around");
  }

  function highlight(id) {
    const target = timeline.querySelector(`li[data-id="${CSS.escape(id)}"]`);
    if (!target) return false;
    timeline.querySelectorAll(".msg.focus").forEach((n) => n.classList.remove("focus"));
    target.classList.add("focus");
    target.scrollIntoView({ block: "center" });
    return true;
  }

  async function loadInitial() {
    const around = aroundTarget();
    let page;
    try {
      page = await api("GET", `rooms/${roomId}/messages/?limit=${PAGE}${around ? `&around=${encodeURIComponent(around)}` : ""}`);
    } catch (e) {
      if (!around) throw e;
      showError(fmt(gettext("That message is not here any more (%(error)s). Showing the latest."), { error: e.message }));
      page = await api("GET", `rooms/${roomId}/messages/?limit=${PAGE}`);
    }
    page.results.forEach(upsert);
    h.prev = page.prev;
    h.next = around ? page.next : null;
    loadEarlier.hidden = !h.prev;
    jumpLatest.hidden = !h.next;
    const divider = placeDivider(timeline, byId, lastRead, userId);
    if (!(around && highlight(around))) {
      if (divider && divider.offsetTop > timeline.clientHeight / 2) divider.scrollIntoView({ block: "center" });
      else toBottom();
    }
    markRead();
  }

  async function loadOlder() {
    if (!h.prev || h.loading) return;
    h.loading = true;
    try {
      const height = timeline.scrollHeight;
      const top = timeline.scrollTop;
      const page = await api("GET", `rooms/${roomId}/messages/?limit=${PAGE}&before=${encodeURIComponent(h.prev)}`);
      page.results.forEach(upsert);
      h.prev = page.prev;
      loadEarlier.hidden = !h.prev;
      // Keep what was on screen where it was.
      timeline.scrollTop = top + (timeline.scrollHeight - height);
    } catch (e) { showError(e.message); } finally { h.loading = false; }
  }

  async function loadNewer() {
    if (!h.next || h.loading) return;
    h.loading = true;
    try {
      const page = await api("GET", `rooms/${roomId}/messages/?limit=${PAGE}&after=${encodeURIComponent(h.next)}`);
      page.results.forEach(upsert);
      h.next = page.results.length ? page.next : null;
      jumpLatest.hidden = !h.next;
      if (!h.next) markRead();
    } catch (e) { showError(e.message); } finally { h.loading = false; }
  }

  // Infinite history: older near the top, newer near the bottom.
  timeline.addEventListener("scroll", () => {
    if (timeline.scrollTop < EDGE_PX) loadOlder();
    if (timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < EDGE_PX) loadNewer();
  }, { passive: true });
  loadEarlier.addEventListener("click", loadOlder);

  // Back to the live end: the newest page, in place of the middle one.
  jumpLatest.addEventListener("click", async () => {
    const page = await api("GET", `rooms/${roomId}/messages/?limit=${PAGE}`);
    for (const id of [...byId.keys()]) drop(id);
    page.results.forEach(upsert);
    h.prev = page.prev;
    h.next = null;
    loadEarlier.hidden = !h.prev;
    jumpLatest.hidden = true;
    const url = new URL(location.href);
    url.searchParams.delete("around");
    history.replaceState(null, "", url);
    toBottom();
    markRead();
  });

  // Until the live socket relays frames: poll forward from the newest cursor,
  // and refresh the newest page for edits, deletions and reactions.
  async function poll() {
    if (h.next) return; // opened in the middle: newer pages load on scroll
    try {
      const newest = newestCursor();
      if (newest) {
        let cursor = newest.cursor;
        for (let i = 0; i < 5 && cursor; i++) {
          const page = await api("GET", `rooms/${roomId}/messages/?limit=100&after=${encodeURIComponent(cursor)}`);
          page.results.forEach(upsert);
          cursor = page.next;
        }
      }
      const recent = await api("GET", `rooms/${roomId}/messages/?limit=50`);
      const seen = new Set(recent.results.map((m) => m.id));
      recent.results.forEach((m) => { const old = byId.get(m.id); if (!old || old.updated_at !== m.updated_at || JSON.stringify(old.reactions) !== JSON.stringify(m.reactions)) upsert(m); });
      // Removed messages disappear for members without moderation rights.
      if (recent.results.length) {
        const oldest = recent.results[0];
        for (const m of [...byId.values()]) if (m.created_at + m.id >= oldest.created_at + oldest.id && !seen.has(m.id)) drop(m.id);
      }
      markRead();
    } catch (e) { /* offline for a moment: try again next tick */ }
  }

  return { loadInitial, loadOlder, loadNewer, poll, markRead, nearBottom, toBottom, newestCursor,
    // Opened in the middle: the newest messages are not shown yet.
    get middle() { return Boolean(h.next); },
    jumpToLatest: () => jumpLatest.click() };
}
