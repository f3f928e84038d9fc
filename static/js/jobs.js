// Live progress for the jobs table: polls the status endpoint while any job is unfinished.
(function () {
  const table = document.getElementById("jobs");
  if (!table) return;
  const labels = {queued: "Queued", running: "Running", succeeded: "Succeeded", failed: "Failed", cancelled: "Cancelled"};
  function unfinished() {
    return Array.from(table.querySelectorAll("tr[data-job][data-finished='0']"));
  }
  async function poll() {
    const rows = unfinished();
    if (!rows.length) return;
    const ids = rows.map((row) => row.dataset.job).join(",");
    const response = await fetch(table.dataset.statusUrl + "?ids=" + ids, {credentials: "same-origin"});
    if (!response.ok) return;
    const data = await response.json();
    let finishedNow = false;
    for (const job of data.jobs) {
      const row = table.querySelector(`tr[data-job='${job.id}']`);
      row.querySelector("progress").value = job.progress;
      row.querySelector(".pct").textContent = job.progress + "%";
      row.querySelector(".status").textContent = labels[job.status] || job.status;
      row.querySelector(".job-message-text").textContent = job.message;
      if (["succeeded", "failed", "cancelled"].includes(job.status)) finishedNow = true;
    }
    if (finishedNow) window.location.reload();
    else setTimeout(poll, 2000);
  }
  setTimeout(poll, 2000);
})();
