// Jobs pages: path picker, test/browse, and the live job detail. The job
// detail subscribes to the job over the socket (job.subscribe, then
// job.progress and job.log frames); while the socket is down it polls the
// JSON API once a second instead.
import { live } from "./socket.js";

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

  async function browse(remote, path, list, onPick) {
    list.textContent = "…";
    try {
      const body = await api(`/api/v1/remotes/${enc(remote)}/browse?path=${enc(path)}`);
      list.textContent = "";
      const parent = path.replace(/\/[^/]*$/, "") || "/";
      const items = path === "/" ? body.entries : [{ name: "..", path: parent, is_dir: true }].concat(body.entries);
      for (const entry of items) {
        const li = document.createElement("li");
        li.textContent = (entry.is_dir ? "📁 " : "📄 ") + entry.name;
        li.addEventListener("click", () => {
          if (onPick) onPick(entry.path);
          if (entry.is_dir) browse(remote, entry.path, list, onPick);
        });
        list.appendChild(li);
      }
    } catch (err) { list.textContent = err.message; }
  }

  // New-job form: a picker per side.
  document.querySelectorAll("[data-browse]").forEach((button) => {
    const side = button.dataset.browse;
    button.addEventListener("click", () => {
      const remote = document.querySelector(`[data-picker="${side}"]`).value;
      const input = document.querySelector(`[data-picker-path="${side}"]`);
      if (!remote) return;
      browse(remote, input.value || "/", document.querySelector(`[data-picker-list="${side}"]`), (p) => { input.value = p; });
    });
  });
  // Remotes page: test connection and browse.
  document.querySelectorAll("[data-test-remote]").forEach((button) => {
    button.addEventListener("click", async () => {
      const name = button.dataset.testRemote;
      const out = document.querySelector(`[data-result="${name}"]`);
      out.textContent = "testing…";
      try {
        const r = await api(`/api/v1/remotes/${enc(name)}/test`, { method: "POST" });
        out.textContent = r.ok ? `OK (${r.entries} entries)` : `Failed: ${r.error}`;
      } catch (err) { out.textContent = err.message; }
    });
  });
  document.querySelectorAll("[data-browse-remote]").forEach((button) => {
    button.addEventListener("click", () => {
      const name = button.dataset.browseRemote;
      browse(name, "/", document.querySelector(`[data-browse-list="${name}"]`));
    });
  });

  // Job detail: live progress and log tail.
  const section = document.getElementById("job");
  if (!section) return;
  const id = section.dataset.jobId;
  let lastLog = Number(section.dataset.lastLog || 0);
  const field = (name) => section.querySelector(`[data-field="${name}"]`);
  const logBox = document.querySelector("pre.log");
  const finished = ["completed", "failed", "cancelled"];
  function render(job) {
    field("status").textContent = job.status;
    field("progress").textContent = job.progress;
    field("progress-bar").value = job.progress;
    field("bytes").textContent = `${job.stats.bytes} / ${job.stats.total_bytes}`;
    field("speed").textContent = `${Math.round(job.stats.speed || 0)} B/s`;
    field("eta").textContent = job.stats.eta == null ? "–" : `${job.stats.eta} s`;
    field("transfers").textContent = `${job.stats.transfers} / ${job.stats.total_transfers}`;
    field("retry_count").textContent = job.retry_count;
    field("error").textContent = job.error || "";
    const list = field("transferring");
    list.textContent = "";
    for (const t of job.transferring || []) {
      const li = document.createElement("li");
      li.textContent = `${t.name}: ${t.percentage}%`;
      list.appendChild(li);
    }
  }
  function appendLogs(lines) {
    for (const line of lines) {
      if (line.id <= lastLog) continue; // already shown (live and polled lines overlap)
      logBox.appendChild(document.createTextNode(`[${line.level}] ${line.message}\n`));
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
