// Readable figures for job pages, the same rules as jobs/figures.py (the
// server-rendered page's filters): sizes in binary units ("200 MiB"), speeds
// ("10.1 MiB/s"), durations ("15 s", "1 h 2 min"). Rounding is
// floor(x * 10 + 0.5) on both sides so they never disagree;
// tests/jobs/test_figures.py runs both on the same inputs, in English and in
// Korean. The words come from Django's JavaScript catalog (/jsi18n/, loaded
// by the page before this module: gettext, interpolate, get_format); without
// it (node, in the tests) they are the English msgids.
const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
export const DASH = "–";

const gettext = (s) => (typeof globalThis.gettext === "function" ? globalThis.gettext(s) : s);
const fill = (format, values) => format.replace(/%\((\w+)\)s/g, (_, key) => String(values[key]));
const point = () => (typeof globalThis.get_format === "function" ? globalThis.get_format("DECIMAL_SEPARATOR") : ".");

function number(value) {
  if (value === null || value === undefined || typeof value === "boolean" || value === "") return null;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : null;
}

export function size(value) {
  let n = number(value);
  if (n === null) return DASH;
  let unit = 0;
  while (n >= 1024 && unit < UNITS.length - 1) { n /= 1024; unit += 1; }
  if (unit === 0) return `${Math.floor(n + 0.5)} B`;
  const tenths = Math.floor(n * 10 + 0.5);
  if (tenths >= 10240 && unit < UNITS.length - 1) return `1 ${UNITS[unit + 1]}`;
  let text;
  if (tenths >= 1000) text = String(Math.floor(n + 0.5));
  else text = tenths % 10 ? `${Math.floor(tenths / 10)}${point()}${tenths % 10}` : String(Math.floor(tenths / 10));
  return `${text} ${UNITS[unit]}`;
}

export function speed(value) { return number(value) === null ? DASH : fill(gettext("%(size)s/s"), { size: size(value) }); }

// Abbreviated units, as a clock or a progress bar shows them: no plural forms.
const seconds = (n) => fill(gettext("%(n)s s"), { n });
const minutes = (n) => fill(gettext("%(n)s min"), { n });
const hours = (n) => fill(gettext("%(n)s h"), { n });
const days = (n) => fill(gettext("%(n)s d"), { n });
const pair = (big, small) => (small ? `${big} ${small}` : big);

export function duration(value) {
  const n = number(value);
  if (n === null) return DASH;
  if (n < 10) {
    // Short runs in tenths: "0.4 s" says more than "0 s".
    const tenths = Math.floor(n * 10 + 0.5);
    if (tenths < 100) return seconds(tenths % 10 ? `${Math.floor(tenths / 10)}${point()}${tenths % 10}` : String(Math.floor(tenths / 10)));
  }
  const s = Math.floor(n + 0.5);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (d) return pair(days(d), h ? hours(h) : "");
  if (h) return pair(hours(h), m ? minutes(m) : "");
  if (m) return pair(minutes(m), sec ? seconds(sec) : "");
  return seconds(sec);
}

export function eta(value) { return number(value) === null ? DASH : fill(gettext("ETA %(duration)s"), { duration: duration(value) }); }

const of = (done, total) => fill(gettext("%(done)s of %(total)s"), { done, total });

export function count(done, total) {
  const d = number(done) || 0, tot = number(total);
  return tot ? of(String(Math.trunc(d)), String(Math.trunc(tot))) : String(Math.trunc(d));
}

export function sizeOf(done, total) { return number(total) ? of(size(done || 0), size(total)) : size(done || 0); }
