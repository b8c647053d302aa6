// Readable figures for job pages, the same rules as jobs/figures.py (the
// server-rendered page's filters): sizes in binary units ("200 MiB"), speeds
// ("10.1 MiB/s"), durations ("15 s", "1 h 2 min"). Rounding is
// floor(x * 10 + 0.5) on both sides so they never disagree;
// tests/jobs/test_figures.py runs both on the same inputs.
const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
export const DASH = "–";

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
  else text = tenths % 10 ? `${Math.floor(tenths / 10)}.${tenths % 10}` : String(Math.floor(tenths / 10));
  return `${text} ${UNITS[unit]}`;
}

export function speed(value) { return number(value) === null ? DASH : `${size(value)}/s`; }

export function duration(value) {
  const n = number(value);
  if (n === null) return DASH;
  if (n < 10) {
    // Short runs in tenths: "0.4 s" says more than "0 s".
    const tenths = Math.floor(n * 10 + 0.5);
    if (tenths < 100) return tenths % 10 ? `${Math.floor(tenths / 10)}.${tenths % 10} s` : `${Math.floor(tenths / 10)} s`;
  }
  const s = Math.floor(n + 0.5);
  const days = Math.floor(s / 86400), hours = Math.floor((s % 86400) / 3600);
  const minutes = Math.floor((s % 3600) / 60), seconds = s % 60;
  if (days) return hours ? `${days} d ${hours} h` : `${days} d`;
  if (hours) return minutes ? `${hours} h ${minutes} min` : `${hours} h`;
  if (minutes) return seconds ? `${minutes} min ${seconds} s` : `${minutes} min`;
  return `${seconds} s`;
}

export function eta(value) { return number(value) === null ? DASH : `ETA ${duration(value)}`; }

export function count(done, total) {
  const d = number(done) || 0, t = number(total);
  return t ? `${Math.trunc(d)} of ${Math.trunc(t)}` : String(Math.trunc(d));
}

export function sizeOf(done, total) { return number(total) ? `${size(done || 0)} of ${size(total)}` : size(done || 0); }
