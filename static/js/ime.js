// Chinese, Japanese and Korean input (issue 19): the Enter that picks a word
// in an IME composition never sends, submits or opens anything, on every
// page (loaded by base.html). While a composition is open in a field, or
// when the keydown says so (isComposing, or keyCode 229, which Safari sends
// for the Enter that ends a composition just after compositionend):
// - the Enter keydown goes no further than this capture-phase listener, so
//   no page script's Enter handler (the composer, the switcher, an edit box,
//   a search box) acts on it;
// - a form's submit in that moment is cancelled (a browser's implicit
//   submission on Enter in a text field).
// The composer and the switcher check isComposing themselves too.
let composing = null; // the field with an open composition
let endedAt = 0;

document.addEventListener("compositionstart", (event) => { composing = event.target; }, true);
document.addEventListener("compositionend", () => { composing = null; endedAt = Date.now(); }, true);

// The composition is open, or ended this very moment (its Enter may come just after).
export function imeBusy(event) {
  return Boolean((event && (event.isComposing || event.keyCode === 229)) || composing || Date.now() - endedAt < 50);
}

document.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" && event.keyCode !== 229) return;
  if (event.key === "Enter" && imeBusy(event)) event.stopImmediatePropagation();
}, true);

document.addEventListener("submit", (event) => {
  if (composing || Date.now() - endedAt < 50) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);
