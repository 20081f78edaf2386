// flowtrack console: the little it does in the browser. No build step, no dependencies.
"use strict";

// A page with data-refresh="N" re-reads itself every N seconds and swaps in its live
// regions ([data-live] with an id), unless the tab is hidden or a field is being edited.
function startRefresh() {
  const seconds = Number(document.body.dataset.refresh || 0);
  if (!seconds) return;
  const busy = () =>
    document.hidden ||
    Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea")).some(
      (field) => field === document.activeElement || (field.form && field.form.method === "post" && field.value)
    );
  const refresh = async () => {
    if (busy()) return;
    const response = await fetch(window.location.href, { credentials: "same-origin" });
    if (!response.ok || response.redirected) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const region of document.querySelectorAll("[data-live][id]")) {
      const replacement = fresh.getElementById(region.id);
      if (replacement) region.replaceWith(replacement);
    }
    if (!fresh.body.dataset.refresh) {
      window.clearInterval(timer);
      document.querySelectorAll(".live").forEach((note) => note.remove());
    }
  };
  const timer = window.setInterval(() => refresh().catch(() => {}), seconds * 1000);
}

// A button with data-confirm asks first.
function confirmButtons() {
  for (const button of document.querySelectorAll("button[data-confirm]")) {
    button.form.addEventListener("submit", (event) => {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  }
}

// A select with data-autosubmit submits its form when changed.
function autosubmit() {
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }
}

document.addEventListener("DOMContentLoaded", () => {
  startRefresh();
  confirmButtons();
  autosubmit();
});
