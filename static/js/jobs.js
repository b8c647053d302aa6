// Jobs pages: path picker, test/browse, and the live job detail. The job
// detail subscribes to the job over the socket (job.subscribe, then
// job.progress and job.log frames); while the socket is down it polls the
// JSON API once a second instead.
import { live } from "./socket.js";
import * as fig from "./figures.js";
import { formatDate } from "./i18n.js";

// The words are the reader's language: Django's JavaScript catalog (/jsi18n/,
// loaded in the page's head) defines gettext, ngettext and interpolate.
const { gettext, ngettext, interpolate } = globalThis;
// The job statuses as the page's badge shows them (the codes stay English in data-status).
const STATUS = {
  pending: gettext("pending"), queued: gettext("queued"), running: gettext("running"),
  completed: gettext("completed"), failed: gettext("failed"), cancelled: gettext("cancelled"),
};

(function () {
  "use strict";
  function csrf() {
    const m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  async function api(url, options) {
    const response = await fetch(url, Object.assign({ credentials: "same-origin", headers: { "X-CSRFToken": csrf(), "Content-Type": "application/json" } }, options || {}));
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error((body.error && body.error.message) || response.statusText);
    return body;
  }
  function enc(s) { return encodeURIComponent(s); }

  function when(iso) {
    // In the page's language and the user's time zone, as every page's dates.
    return iso ? formatDate(iso, { dateStyle: "medium", timeStyle: "short" }) : "";
  }
  // One folder's listing: folders open on click; each row shows its size and
  // date; with `uses` ([{label, pick(path)}]) each row also offers them.
  async function browse(remote, path, list, uses) {
    list.textContent = "";
    const wait = document.createElement("li");
    wait.textContent = gettext("Loading…");
    list.appendChild(wait);
    try {
      const body = await api(`/api/v1/remotes/${enc(remote)}/browse?path=${enc(path)}`);
      list.textContent = "";
      const head = document.createElement("li");
      head.className = "path-head";
      head.textContent = `${remote}:${path}`;
      list.appendChild(head);
      addUses(head, path, uses);
      const parent = path.replace(/\/[^/]*\/?$/, "") || "/";
      const items = path === "/" ? body.entries : [{ name: "..", path: parent, is_dir: true, up: true }].concat(body.entries);
      for (const entry of items) {
        const li = document.createElement("li");
        const open = document.createElement("button");
        open.type = "button";
        open.className = `entry ${entry.is_dir ? "is-dir" : "is-file"}`;
        open.textContent = entry.name;
        if (entry.is_dir) open.addEventListener("click", () => browse(remote, entry.path, list, uses));
        else open.disabled = true;
        const meta = document.createElement("span");
        meta.className = "meta";
        if (!entry.up) meta.textContent = [entry.is_dir ? gettext("folder") : fig.size(entry.size), when(entry.mod_time)].filter(Boolean).join(" · ");
        li.append(open, meta);
        if (!entry.up) addUses(li, entry.path, uses);
        list.appendChild(li);
      }
      if (!body.entries.length) {
        const li = document.createElement("li");
        li.className = "muted";
        li.textContent = gettext("This folder is empty.");
        list.appendChild(li);
      }
    } catch (err) { list.textContent = ""; const li = document.createElement("li"); li.textContent = err.message; list.appendChild(li); }
  }
  function addUses(li, path, uses) {
    for (const use of uses || []) {
      const b = document.createElement(use.href ? "a" : "button");
      b.className = "use";
      b.textContent = use.short || use.label;
      b.title = use.label;
      b.setAttribute("aria-label", `${use.label}: ${path}`);
      if (use.href) b.href = use.href(path);
      else { b.type = "button"; b.className = "use btn"; b.addEventListener("click", () => use.pick(path)); }
      li.appendChild(b);
    }
  }

  // New-job form: a picker per side, and Preview first for types that delete.
  document.querySelectorAll("[data-browse]").forEach((button) => {
    const side = button.dataset.browse;
    button.addEventListener("click", () => {
      const remote = document.querySelector(`[data-picker="${side}"]`).value;
      const input = document.querySelector(`[data-picker-path="${side}"]`);
      const list = document.querySelector(`[data-picker-list="${side}"]`);
      if (!remote) return;
      browse(remote, input.value || "/", list, [{ label: side === "source" ? gettext("Use as source") : gettext("Use as destination"), short: gettext("Use"), pick: (p) => { input.value = p; list.textContent = ""; } }]);
    });
  });
  const jobForm = document.querySelector("[data-testid=job-form]");
  if (jobForm) {
    const type = jobForm.querySelector("[data-job-type]");
    const deleting = (jobForm.dataset.previewTypes || "").split(",");
    const preview = jobForm.querySelector("[data-testid=preview]");
    const start = jobForm.querySelector("[data-testid=start]");
    const update = () => {
      const risky = deleting.includes(type.value);
      jobForm.querySelector("[data-deletes-hint]").hidden = !risky;
      preview.classList.toggle("primary", risky);
      start.classList.toggle("primary", !risky);
      jobForm.querySelector("[data-destination]").disabled = type.value === "delete";
    };
    type.addEventListener("change", update);
    update();
  }
  // Remotes page: test connection and browse.
  document.querySelectorAll("[data-test-remote]").forEach((button) => {
    button.addEventListener("click", async () => {
      const name = button.dataset.testRemote;
      const out = document.querySelector(`[data-result="${name}"]`);
      out.textContent = gettext("testing…");
      try {
        const r = await api(`/api/v1/remotes/${enc(name)}/test`, { method: "POST" });
        out.textContent = r.ok
          ? interpolate(ngettext("OK (%(count)s entry)", "OK (%(count)s entries)", r.entries), { count: r.entries }, true)
          : interpolate(gettext("Failed: %(error)s"), { error: r.error }, true);
      } catch (err) { out.textContent = err.message; }
    });
  });
  document.querySelectorAll("[data-browse-remote]").forEach((button) => {
    button.addEventListener("click", () => {
      const name = button.dataset.browseRemote;
      const q = (side, p) => `/jobs/new/?${side}_remote=${enc(name)}&${side}_path=${enc(p)}`;
      browse(name, "/", document.querySelector(`[data-browse-list="${name}"]`), [
        { label: gettext("New job from here"), href: (p) => q("source", p) },
        { label: gettext("New job to here"), href: (p) => q("destination", p) },
      ]);
    });
  });

  // Job detail: live progress and log tail.
  const section = document.getElementById("job");
  if (!section) return;
  const id = section.dataset.jobId;
  let lastLog = Number(section.dataset.lastLog || 0);
  const field = (name) => section.querySelector(`[data-field="${name}"]`);
  const total = (name) => section.querySelector(`[data-total="${name}"]`);
  const logBox = document.querySelector("pre.log");
  const FINISHED = ["completed", "failed", "cancelled"];
  const ACTIVE = ["pending", "queued", "running"];
  function show(action, visible) {
    const form = section.querySelector(`[data-action="${action}"]`);
    if (form) form.hidden = !visible;
  }
  function render(job) {
    const s = job.stats || {};
    const finished = FINISHED.includes(job.status);
    const running = job.status === "running";
    section.dataset.state = finished ? "finished" : "active";
    const status = field("status");
    status.textContent = STATUS[job.status] || job.status;
    status.dataset.status = job.status;
    status.className = `badge status-${job.status}`;
    field("progress").textContent = job.progress;
    field("progress-bar").value = job.progress;
    field("bytes").textContent = s.total_bytes ? fig.sizeOf(s.bytes, s.total_bytes) : fig.size(s.bytes || 0);
    // Speed and ETA belong to a running transfer: none is shown once it ends.
    field("speed").textContent = running ? fig.speed(s.speed || 0) : fig.DASH;
    field("eta").textContent = running && s.eta != null ? fig.duration(s.eta) : fig.DASH;
    field("transfers").textContent = fig.count(s.transfers, s.total_transfers);
    field("attempt").textContent = interpolate(gettext("attempt %(attempt)s of %(attempts)s"),
      { attempt: job.retry_count + 1, attempts: job.max_retries + 1 }, true);
    field("error").textContent = job.error || "";
    const list = field("transferring");
    list.textContent = "";
    for (const t of running ? job.transferring || [] : []) {
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = t.name;
      const how = document.createElement("span");
      how.className = "muted";
      how.textContent = ` ${interpolate(gettext("%(percent)s% of %(size)s"), { percent: t.percentage || 0, size: fig.size(t.size) }, true)}`;
      li.append(name, how);
      list.appendChild(li);
    }
    if (finished) {
      const end = job.completed_at || job.cancelled_at;
      const took = end && job.started_at ? (Date.parse(end) - Date.parse(job.started_at)) / 1000 : null;
      total("bytes").textContent = fig.size(s.bytes || 0);
      total("transfers").textContent = s.transfers || 0;
      total("took").textContent = fig.duration(took);
      total("average").textContent = took ? fig.speed((s.bytes || 0) / took) : fig.DASH;
      total("checks").textContent = s.checks || 0;
      total("errors").textContent = s.errors || 0;
      const empty = section.querySelector("[data-preview-empty]");
      if (empty) empty.textContent = gettext("Nothing: the destination is already up to date.");
    }
    // Only what the state allows (the page's owner checks are the server's).
    show("cancel", ACTIVE.includes(job.status));
    show("retry", job.status === "failed" || job.status === "cancelled");
    show("run", job.status === "completed" && section.dataset.dryRun === "true");
  }
  // A dry run's "would copy/move/delete" lines, as the preview lists them.
  const PREVIEW = { copy: "copy", delete: "delete", move: "move", "server-side directory move": "move" };
  function addPreview(line) {
    const group = line.details && PREVIEW[line.details.skipped];
    const box = group && section.querySelector(`[data-preview-group="${group}"]`);
    if (!box) return;
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.className = "name";
    const wholeFolder = group === "move" && line.details.skipped !== "move";
    // A whole-folder move names the backend, not a path (see selectors.dry_run_preview).
    name.textContent = wholeFolder ? interpolate(gettext("%(path)s (the whole folder)"), { path: section.dataset.source }, true) : line.details.object || "";
    const size = document.createElement("span");
    size.className = "muted";
    size.textContent = wholeFolder ? "" : ` ${fig.size(line.details.size)}`;
    li.append(name, size);
    box.querySelector("ul").appendChild(li);
    box.querySelector("[data-preview-count]").textContent = box.querySelectorAll("li").length;
    box.hidden = false;
    const empty = section.querySelector("[data-preview-empty]");
    if (empty) empty.hidden = true;
  }
  function appendLogs(lines) {
    for (const line of lines) {
      if (line.id <= lastLog) continue; // already shown (live and polled lines overlap)
      const span = document.createElement("span");
      span.className = `lvl-${line.level}`;
      span.textContent = `[${line.level}] ${line.message}`;
      logBox.append(span, "\n");
      addPreview(line);
      lastLog = line.id;
    }
    if (lines.length) logBox.scrollTop = logBox.scrollHeight;
  }
  async function poll() {
    const job = await api(`/api/v1/jobs/${id}/`);
    render(job);
    const logs = await api(`/api/v1/jobs/${id}/logs/?after=${lastLog}&limit=200`);
    appendLogs(logs.results);
    return job;
  }
  async function tick() {
    if (!live.ready) {
      try { await poll(); } catch (err) { /* keep polling */ }
    }
    setTimeout(tick, 1000);
  }
  live.on("ready", async () => {
    live.send({ type: "job.subscribe", job_id: id });
    try { await poll(); } catch (err) { /* the frames carry on */ } // what happened while away
    section.dataset.live = "true"; // subscribed and caught up: frames drive the page now
  });
  live.on("socket.closed", () => { section.dataset.live = "false"; });
  live.on("job.progress", (frame) => { if (frame.job.id === id) render(frame.job); });
  live.on("job.log", (frame) => { if (frame.job_id === id) appendLogs(frame.lines); });
  setTimeout(tick, 500);
})();
