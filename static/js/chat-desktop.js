// Desktop notifications (the browser's Notification API) for mentions and
// direct messages while the tab is hidden, on every chat page (loaded by
// chatroom/base_chat.html). A per-user switch: the `desktop_notifications`
// key of profile.preferences (default off), shown under the room's composer
// (#desktop-notifications) and changed through PATCH /api/v1/me
// (accounts.services.profile_update), the other keys kept. The room page's
// config carries the setting; other pages read it from GET /api/v1/me.
// Clicking a notification focuses the tab and opens the message (its url
// jumps to the message: ?around=<id>).
import { live } from "./socket.js";
import { api } from "./chat-util.js";
import { gettext } from "./i18n.js";

const KEY = "desktop_notifications";

function setup({ toggle, enabled }) {
  let on = Boolean(enabled);
  const supported = "Notification" in window;

  function show() {
    if (!toggle) return;
    toggle.checked = on && supported && Notification.permission === "granted";
    toggle.disabled = !supported || Notification.permission === "denied";
    toggle.closest("label")?.setAttribute("title", !supported ? gettext("This browser has no desktop notifications.")
      : Notification.permission === "denied" ? gettext("Notifications are blocked for this site in the browser's settings.") : "");
  }

  async function save(value) {
    const me = await api("GET", "me");
    const preferences = { ...((me.profile && me.profile.preferences) || {}), [KEY]: value };
    await api("PATCH", "me", { preferences });
    on = value;
  }

  if (toggle) {
    toggle.addEventListener("change", async () => {
      const wanted = toggle.checked;
      try {
        if (wanted && Notification.permission !== "granted") {
          const answer = await Notification.requestPermission();
          if (answer !== "granted") { show(); return; }
        }
        await save(wanted);
      } catch (e) {
        toggle.closest("label")?.setAttribute("title", e.message);
      }
      show();
    });
  }
  show();

  live.on("notification", (frame) => {
    const n = frame && frame.notification;
    if (!n || !on || !supported || Notification.permission !== "granted" || !document.hidden) return;
    const data = n.data || {};
    const wanted = n.type === "mention" || (n.type === "new_message" && data.reason === "dm");
    if (!wanted) return;
    const note = new Notification(String(n.title || "Teamhub"), { body: String(n.message || ""), tag: String(n.id || ""), silent: false });
    note.addEventListener("click", () => {
      window.focus();
      const url = typeof data.url === "string" && data.url.startsWith("/") && !data.url.startsWith("//") ? data.url : null;
      if (url) location.href = url;
      note.close();
    });
  });
}

async function start() {
  const config = document.getElementById("chat-config");
  let enabled = config ? JSON.parse(config.textContent).desktopNotifications : undefined;
  if (enabled === undefined) {
    try { enabled = Boolean((await api("GET", "me")).profile?.preferences?.[KEY]); } catch (e) { enabled = false; }
  }
  setup({ toggle: document.getElementById("desktop-notifications"), enabled });
  document.documentElement.dataset.desktopNotifications = "ready";
}

start();
