// The schedule form: show the fields of the chosen repeat, and the next five
// runs as the rule is typed (the server computes them with the scheduler's
// own code, in the schedule's time zone: /jobs/schedules/preview).
(function () {
  "use strict";
  // The words: Django's JavaScript catalog (/jsi18n/, loaded in the page's head).
  const { gettext } = window;
  const form = document.querySelector("[data-testid=schedule-form]");
  if (!form) return;
  const repeat = form.querySelector("[data-repeat]");
  const list = form.querySelector("[data-testid=next-runs]");
  const problem = form.querySelector("[data-testid=preview-error]");
  const zone = form.querySelector("[data-preview-zone]");
  function showFields() {
    for (const el of form.querySelectorAll("[data-when]")) {
      const on = el.dataset.when.split(" ").includes(repeat.value);
      el.hidden = !on;
      for (const input of el.querySelectorAll("input")) input.disabled = !on;
    }
  }
  let timer = null, asked = 0;
  async function refresh() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) if (key !== "csrfmiddlewaretoken") params.append(key, value);
    const mine = ++asked;
    let body, ok;
    try {
      const response = await fetch(`${form.dataset.previewUrl}?${params}`, { credentials: "same-origin" });
      ok = response.ok;
      body = await response.json();
    } catch (err) { ok = false; body = { error: { message: gettext("The preview could not be loaded.") } }; }
    if (mine !== asked) return; // a newer keystroke's answer wins
    list.textContent = "";
    if (!ok) {
      const e = body.error || {};
      const fields = Object.values(e.fields || {}).flat();
      problem.textContent = fields.length ? fields.join(" ") : e.message || gettext("Not a valid rule.");
      problem.hidden = false;
      zone.textContent = "";
      form.dataset.preview = "error";
      return;
    }
    problem.hidden = true;
    zone.textContent = `(${body.rule}, ${body.timezone})`;
    for (const run of body.next_runs) {
      const li = document.createElement("li");
      const time = document.createElement("time");
      time.dateTime = run.at;
      time.textContent = run.label;
      li.appendChild(time);
      list.appendChild(li);
    }
    if (!body.next_runs.length) { const li = document.createElement("li"); li.textContent = gettext("No run ahead."); list.appendChild(li); }
    form.dataset.preview = "ok";
  }
  function soon() { clearTimeout(timer); timer = setTimeout(refresh, 200); }
  repeat.addEventListener("change", () => { showFields(); soon(); });
  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  showFields();
  refresh();
})();
