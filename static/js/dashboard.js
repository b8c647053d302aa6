// The home dashboard's running jobs, live: each row subscribes to its job
// over the page's socket (job.subscribe, as the job page does) and shows the
// job.progress frames with the job page's figures (figures.js). A job that
// ends keeps its row with its final status; speed and ETA go.
import { live } from "./socket.js";
import * as fig from "./figures.js";
import { LANG, gettext } from "./i18n.js";

// The job statuses in the reader's words (the job page's msgids; the code stays in the class).
const STATUS = {
  pending: gettext("pending"), queued: gettext("queued"), running: gettext("running"),
  completed: gettext("completed"), failed: gettext("failed"), cancelled: gettext("cancelled"),
};

const PERCENT = new Intl.NumberFormat(LANG, { style: "percent", maximumFractionDigits: 1 });
const FINISHED = ["completed", "failed", "cancelled"];
const rows = new Map([...document.querySelectorAll("[data-job-id]")].map((row) => [row.dataset.jobId, row]));

function render(job) {
  const row = rows.get(job.id);
  if (!row) return;
  const f = (name) => row.querySelector(`[data-f="${name}"]`);
  const s = job.stats || {};
  const running = job.status === "running";
  f("status").textContent = STATUS[job.status] || job.status;
  f("status").className = `badge status-${job.status}`;
  f("bar").value = job.progress;
  f("progress").textContent = PERCENT.format((job.progress || 0) / 100);
  f("bytes").textContent = s.total_bytes ? fig.sizeOf(s.bytes, s.total_bytes) : (s.bytes ? fig.size(s.bytes) : "");
  f("speed").textContent = running ? fig.speed(s.speed || 0) : "";
  f("eta").textContent = running && s.eta != null ? fig.eta(s.eta) : "";
  row.dataset.state = FINISHED.includes(job.status) ? "finished" : "active";
}

live.on("ready", () => {
  for (const id of rows.keys()) live.send({ type: "job.subscribe", job_id: id });
});
live.on("job.progress", (frame) => { if (frame.job) render(frame.job); });
