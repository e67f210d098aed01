// Small progressive enhancements; every form works without this file.
"use strict";

document.addEventListener("click", async (event) => {
  const copy = event.target.closest("[data-copy]");
  if (copy) {
    const field = document.querySelector(copy.dataset.copy);
    if (!field) return;
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
    } catch (_) {
      document.execCommand("copy"); // older browsers, or a page served over plain HTTP
    }
    const label = copy.textContent;
    copy.textContent = "Copied";
    setTimeout(() => { copy.textContent = label; }, 1500);
    return;
  }
  const confirmer = event.target.closest("[data-confirm]");
  if (confirmer && !window.confirm(confirmer.dataset.confirm)) {
    event.preventDefault();
  }
});

document.addEventListener("focusin", (event) => {
  if (event.target.matches("[data-select-all]")) event.target.select();
});

// Scopes only matter for "Restricted": hide them otherwise.
function syncScopes() {
  const scopes = document.querySelector("[data-scopes]");
  const chosen = document.querySelector("[data-permissions] input:checked");
  if (scopes && chosen) scopes.hidden = chosen.value !== "restricted";
}
document.addEventListener("change", (event) => {
  if (event.target.closest("[data-permissions]")) syncScopes();
});
document.addEventListener("DOMContentLoaded", syncScopes);

// The usage form: picking a date means a custom range.
document.addEventListener("change", (event) => {
  const form = event.target.closest("form.filters");
  if (!form || !form.elements.range) return;
  if (event.target.type === "date") form.elements.range.value = "custom";
});
