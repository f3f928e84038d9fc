// Live preview on "Fix my recommendations": as the member changes a selection, ask the preview API
// (which changes nothing) and show the new top 10. The form's Preview button still works without JavaScript.
(function () {
  const form = document.getElementById("choose-form");
  const panel = document.getElementById("live-preview");
  if (!form || !panel) return;
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  let timer = null;
  let latest = 0;  // only the answer to the newest question is shown

  function changes() {
    const chosen = [];
    form.querySelectorAll("select[name^='action-']").forEach((select) => {
      const id = parseInt(select.name.slice("action-".length), 10);
      if (select.value === "remove") chosen.push({interaction_id: id, weight: 0});
      if (select.value === "lower") chosen.push({interaction_id: id, weight: parseFloat(form.querySelector(`#weight-${id}`).value)});
    });
    return chosen;
  }

  function listItems(items, flag, label) {
    return items.map((item) => `<li>${escape(item.title)}${item[flag] ? ` <span class="badge">${label}</span>` : ""}</li>`).join("");
  }

  function replaced(before, after) {
    const count = after.filter((item) => item.new).length;
    if (count) return `${count} of your top 10 would be replaced.`;
    const reordered = after.some((item, rank) => !before[rank] || before[rank].id !== item.id);
    return reordered ? "Your top 10 would keep the same titles, in a different order." : "Your top 10 would stay the same.";
  }

  function escape(text) {
    const div = document.createElement("div");
    div.textContent = text;
    return div.innerHTML;
  }

  async function refresh() {
    const chosen = changes();
    const asked = ++latest;
    if (!chosen.length) { panel.hidden = true; return; }
    let response, data;
    try {
      response = await fetch("/api/recourse/preview/", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
        body: JSON.stringify({changes: chosen}),
      });
      data = await response.json();
    } catch (error) {  // offline, or an answer that is not JSON (a proxy's error page)
      response = null;
      data = {};
    }
    if (asked !== latest) return;
    panel.hidden = false;
    if (!response || !response.ok) {
      panel.textContent = data.detail || "The live preview is unavailable right now; the Preview button still works.";
      return;
    }
    panel.innerHTML = `<h3>Live preview — nothing has changed yet</h3>
      <p>${replaced(data.top_before, data.top_after)}</p>
      <div class="grid-2"><div><h4>Now</h4><ol class="compact">${listItems(data.top_before, "left", "leaves")}</ol></div>
      <div><h4>After the change</h4><ol class="compact">${listItems(data.top_after, "new", "new")}</ol></div></div>
      <p>Press “Preview” to review and apply.</p>`;
  }

  form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refresh, 400); });
  // A selection made before this script ran (a slow load, or the browser restoring the form on "Back")
  // gets its preview too.
  if (changes().length) refresh();
})();
