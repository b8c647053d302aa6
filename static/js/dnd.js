// The signed-in user's own do not disturb state (issue 18), for the page's
// notifier: no desktop notifications while inDnd() is true. The state comes
// with the socket's "ready" frame (ready.user.dnd) and every "dnd" frame
// about this user ({type: "dnd", user_id, active, ends_at, until, schedule});
// a scheduled DND begins and ends by the clock, so ends_at is checked too.
// <html data-dnd="1"> mirrors it for styles.
import { live } from "./socket.js";

let me = null;
let state = null;

function apply(next) {
  state = next || null;
  document.documentElement.dataset.dnd = inDnd() ? "1" : "0";
  document.dispatchEvent(new CustomEvent("teamhub:dnd", { detail: state }));
}

export function inDnd(now = Date.now()) {
  if (!state || !state.active) return false;
  return !state.ends_at || Date.parse(state.ends_at) > now;
}

export function dndState() { return state; }

live.on("ready", (frame) => {
  me = frame?.user?.id ?? null;
  apply(frame?.user?.dnd);
});

live.on("dnd", (frame) => {
  if (frame && frame.user_id === me) apply(frame);
});
