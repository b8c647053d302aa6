// The reader's language for the pages' scripts (issue 19). The words come
// from Django's JavaScript catalog (/jsi18n/, loaded once by base.html in the
// head, before any module runs: it defines the globals gettext, ngettext,
// interpolate); without it (a page that failed to load it, node in tests)
// they are the English msgids. Dates, times and numbers are the page's
// language (<html lang>) in the user's profile time zone
// (<html data-time-zone>, base.html), through Intl.
const g = globalThis;
export const gettext = typeof g.gettext === "function" ? g.gettext : (s) => s;
export const ngettext = typeof g.ngettext === "function" ? g.ngettext : (one, many, n) => (n === 1 ? one : many);
export const interpolate = typeof g.interpolate === "function" ? g.interpolate
  : (format, values, named) => (named ? format.replace(/%\((\w+)\)s/g, (_, key) => String(values[key]))
    : format.replace(/%s/g, () => String(values.shift())));

const root = g.document ? g.document.documentElement : null;
export const LANG = (root && root.lang) || "en";

function validZone(zone) {
  if (!zone) return undefined;
  try { new Intl.DateTimeFormat("en", { timeZone: zone }); return zone; } catch (e) { return undefined; }
}
// undefined: the browser's own zone (a page without a signed-in user).
export const ZONE = validZone(root && root.dataset.timeZone);

// "%(name)s ..." filled with values (numbers in the locale's digits and separators).
export function fmt(format, values) {
  const shown = {};
  for (const [key, value] of Object.entries(values)) shown[key] = typeof value === "number" ? number(value) : value;
  return interpolate(format, shown, true);
}

const numbers = new Intl.NumberFormat(LANG);
export function number(n) { return numbers.format(n); }

const dateFormats = new Map();
// An Intl.DateTimeFormat in the page's language and the user's time zone.
export function dateFormat(options) {
  const key = JSON.stringify(options);
  if (!dateFormats.has(key)) dateFormats.set(key, new Intl.DateTimeFormat(LANG, { timeZone: ZONE, ...options }));
  return dateFormats.get(key);
}

export function formatDate(value, options) {
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? "" : dateFormat(options).format(d);
}

// The calendar day of an instant in the user's zone ("2026-12-04").
export function dayKey(value) {
  const parts = {};
  for (const p of dateFormat({ year: "numeric", month: "2-digit", day: "2-digit", calendar: "gregory", numberingSystem: "latn" })
    .formatToParts(value instanceof Date ? value : new Date(value))) parts[p.type] = p.value;
  return `${parts.year}-${parts.month}-${parts.day}`;
}

export const relative = new Intl.RelativeTimeFormat(LANG, { numeric: "auto", style: "short" });
