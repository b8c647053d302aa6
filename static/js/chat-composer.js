// A message composer (the room's and the thread panel's): Enter sends,
// Shift-Enter is a newline, and Enter while an IME composition is open
// (Chinese, Japanese, Korean input) never sends; @mention autocomplete for
// the room's people, @all/@here and department handles; the emoji picker;
// files from the file input, paste and drag-and-drop, uploaded at once
// through /api/v1/uploads with a progress bar.
//
// The page gives it onSend({content, attachmentIds, ...extra}); it resolves
// when sent (the composer then clears) or throws (the error is shown and the
// text kept). Other controls can join: the form's `.composer-tools` slot takes
// buttons, and `form.composer.submit(extra)` sends with extra fields (for
// instance a later send time) merged into what onSend gets.

import { size } from "./figures.js";
import { el, uploadFile } from "./chat-util.js";
import { fmt, gettext } from "./i18n.js";
import { openEmojiPicker } from "./chat-emoji.js";

// The server's rule (chatroom/markdown.py MENTION_RE): not just after a
// letter, digit or "@", but a Chinese, Japanese or Korean character may come
// before it (no spaces there: "你好@al" offers alice).
const CJK = "\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff";
const MENTION_AT_CARET = new RegExp(`(?:^|[^\\p{L}\\p{N}_@]|[${CJK}])@([A-Za-z0-9_.\\-]{0,50})$`, "u");
const SUGGESTIONS_MAX = 8;

// opts: { form, text, errorOut, onSend, people: () => [{name, label, kind}], maxBytes, fileInput }
export function createComposer(opts) {
  const { form, text, errorOut } = opts;
  const uploads = []; // {file, promise, id, node, failed}
  let composing = false;
  let sending = false;

  const tools = form.querySelector(".composer-tools");
  const tray = el("ul", { class: "upload-tray", "data-testid": "upload-tray", "aria-label": gettext("Files to send") });
  text.insertAdjacentElement("afterend", tray);
  const suggest = el("ul", { class: "mention-suggest", role: "listbox", "data-testid": "mention-suggest", hidden: true, id: `${text.id}-suggest` });
  form.classList.add("has-suggest");
  text.insertAdjacentElement("beforebegin", suggest);
  text.setAttribute("aria-controls", suggest.id);
  text.setAttribute("aria-autocomplete", "list");

  function error(message) { if (errorOut) errorOut.textContent = message || ""; }

  // ------------------------------------------------------------ uploads
  function addFiles(files) {
    for (const file of files) {
      const bar = el("progress", { max: 1, value: 0, "data-testid": "upload-progress", "aria-label": fmt(gettext("Uploading %(name)s"), { name: file.name }) });
      const remove = el("button", { type: "button", class: "link", "aria-label": fmt(gettext("Remove %(name)s"), { name: file.name }) }, "×");
      const node = el("li", { class: "upload", "data-testid": "upload" }, el("span", { class: "upload-name" }, `${file.name} (${size(file.size)})`), bar, remove);
      const item = { file, node, id: null, failed: null };
      remove.addEventListener("click", () => {
        uploads.splice(uploads.indexOf(item), 1);
        node.remove();
        if (item.failed) error(uploads.find((u) => u.failed)?.failed || "");
        text.focus();
      });
      tray.append(node);
      uploads.push(item);
      if (opts.maxBytes && file.size > opts.maxBytes) {
        item.failed = fmt(gettext("%(name)s is too large: at most %(size)s."), { name: file.name, size: size(opts.maxBytes) });
        item.promise = Promise.resolve();
      } else {
        item.promise = uploadFile(file, (share) => { bar.value = share; })
          .then((upload) => { item.id = upload.id; node.classList.add("done"); node.dataset.state = "done"; })
          .catch((e) => { item.failed = `${file.name}: ${e.message}`; });
      }
      item.promise.then(() => {
        if (item.failed) { node.classList.add("failed"); node.dataset.state = "failed"; bar.remove(); node.querySelector(".upload-name").textContent = item.failed; error(item.failed); }
      });
    }
  }

  if (opts.fileInput) {
    opts.fileInput.addEventListener("change", () => { addFiles([...opts.fileInput.files]); opts.fileInput.value = ""; });
  }
  text.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files || [])];
    if (files.length) { event.preventDefault(); addFiles(files); }
  });
  form.addEventListener("dragover", (event) => {
    if ([...(event.dataTransfer?.types || [])].includes("Files")) { event.preventDefault(); form.classList.add("dropping"); }
  });
  form.addEventListener("dragleave", () => form.classList.remove("dropping"));
  form.addEventListener("drop", (event) => {
    form.classList.remove("dropping");
    const files = [...(event.dataTransfer?.files || [])];
    if (files.length) { event.preventDefault(); addFiles(files); }
  });

  // ------------------------------------------------------------ mentions
  let options = [];
  let active = 0;

  function query() {
    const before = text.value.slice(0, text.selectionStart);
    const match = before.match(MENTION_AT_CARET);
    return match ? match[1] : null;
  }

  function closeSuggest() { suggest.hidden = true; options = []; text.removeAttribute("aria-activedescendant"); }

  function renderSuggest() {
    suggest.replaceChildren(...options.map((o, i) => el("li", {
      role: "option", id: `${suggest.id}-${i}`, class: i === active ? "active" : "", "aria-selected": i === active ? "true" : "false",
      "data-name": o.name, "data-testid": "mention-option", on: { mousedown: (event) => { event.preventDefault(); pick(i); } },
    }, el("strong", {}, `@${o.name}`), o.label ? el("span", { class: "muted" }, ` ${o.label}`) : null)));
    suggest.hidden = !options.length;
    if (options.length) text.setAttribute("aria-activedescendant", `${suggest.id}-${active}`);
  }

  function updateSuggest() {
    const q = query();
    if (q === null) { closeSuggest(); return; }
    const lower = q.toLowerCase();
    const people = opts.people ? opts.people() : [];
    const starts = people.filter((p) => p.name.toLowerCase().startsWith(lower));
    const contains = people.filter((p) => !p.name.toLowerCase().startsWith(lower) && p.name.toLowerCase().includes(lower));
    options = [...starts, ...contains].slice(0, SUGGESTIONS_MAX);
    active = 0;
    renderSuggest();
  }

  function pick(i) {
    const o = options[i];
    if (!o) return;
    const caret = text.selectionStart;
    const before = text.value.slice(0, caret).replace(/@[\w.\-]{0,50}$/, `@${o.name} `);
    text.value = before + text.value.slice(caret);
    text.selectionStart = text.selectionEnd = before.length;
    closeSuggest();
    text.focus();
    text.dispatchEvent(new Event("input", { bubbles: true }));
  }

  text.addEventListener("input", updateSuggest);
  text.addEventListener("blur", () => setTimeout(closeSuggest, 150));

  // ------------------------------------------------------------ keys and IME
  text.addEventListener("compositionstart", () => { composing = true; });
  // The Enter that ends a composition can arrive after compositionend (Safari): wait a tick.
  text.addEventListener("compositionend", () => { setTimeout(() => { composing = false; }, 0); });

  text.addEventListener("keydown", (event) => {
    if (event.isComposing || composing || event.keyCode === 229) return;
    if (!suggest.hidden && options.length) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        active = (active + (event.key === "ArrowDown" ? 1 : options.length - 1)) % options.length;
        renderSuggest();
        return;
      }
      if (event.key === "Enter" || event.key === "Tab") { event.preventDefault(); pick(active); return; }
      if (event.key === "Escape") { event.preventDefault(); closeSuggest(); return; }
    }
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      submit();
    }
  });

  // ------------------------------------------------------------ emoji
  const emojiButton = el("button", { type: "button", class: "composer-emoji", "aria-label": gettext("Insert an emoji"), "aria-haspopup": "dialog",
    title: gettext("Emoji"), "data-testid": "composer-emoji" }, "😊");
  emojiButton.addEventListener("click", () => openEmojiPicker(emojiButton, (emoji) => {
    const start = text.selectionStart ?? text.value.length;
    const end = text.selectionEnd ?? start;
    text.value = text.value.slice(0, start) + emoji + text.value.slice(end);
    text.focus();
    text.selectionStart = text.selectionEnd = start + emoji.length;
    text.dispatchEvent(new Event("input", { bubbles: true }));
  }));
  (tools || form).prepend(emojiButton);

  // ------------------------------------------------------------ sending
  async function submit(extra = {}) {
    if (sending) return false;
    error("");
    const content = text.value;
    if (!content.trim() && !uploads.length) return false;
    sending = true;
    form.setAttribute("aria-busy", "true");
    try {
      await Promise.all(uploads.map((u) => u.promise));
      const failed = uploads.find((u) => u.failed);
      if (failed) { error(fmt(gettext("%(error)s Remove it to send."), { error: failed.failed })); return false; }
      await opts.onSend({ content, attachmentIds: uploads.map((u) => u.id), ...extra });
      text.value = "";
      uploads.splice(0).forEach((u) => u.node.remove());
      closeSuggest();
      text.dispatchEvent(new Event("input", { bubbles: true }));
      return true;
    } catch (e) {
      error(e.message);
      return false;
    } finally {
      sending = false;
      form.removeAttribute("aria-busy");
    }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); submit(); });
  const composer = { submit, addFiles, tools, people: () => (opts.people ? opts.people() : []), get text() { return text; } };
  form.composer = composer;
  return composer;
}
