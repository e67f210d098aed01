// Small progressive enhancements; every form works without this file.
"use strict";

async function copyFrom(button) {
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  const text = "value" in source ? source.value : source.textContent;
  if ("select" in source) source.select();
  try {
    await navigator.clipboard.writeText(text);
  } catch (_) {
    // Older browsers, or a page served over plain HTTP: copy the selection instead.
    const range = document.createRange();
    if (!("select" in source)) {
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
    document.execCommand("copy");
  }
  // Only the visible word changes, so the button's name stays "Copy(ed) the ...".
  const word = button.querySelector("[data-copy-label]") || button;
  word.textContent = "Copied";
  setTimeout(() => { word.textContent = "Copy"; }, 1500);
}

document.addEventListener("click", (event) => {
  const copy = event.target.closest("[data-copy]");
  if (copy) {
    copyFrom(copy);
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

// The usage form: picking a date means a custom range.
document.addEventListener("change", (event) => {
  const form = event.target.closest("form.filters");
  if (!form || !form.elements.range) return;
  if (event.target.type === "date") form.elements.range.value = "custom";
});

// The key shown once: focus on the key, Tab stays inside, Escape is Done.
// The page behind is already inert (the server marks it so).
const FOCUSABLE = "a[href], button:not([disabled]), input:not([disabled]), summary, [tabindex='0']";

function trapDialog(dialog) {
  const secret = dialog.querySelector("#secret-value");
  if (secret) { secret.focus(); secret.select(); }
  dialog.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      dialog.querySelector("[data-done]").click();
      return;
    }
    if (event.key !== "Tab") return;
    const items = [...dialog.querySelectorAll(FOCUSABLE)].filter((el) => el.offsetParent !== null);
    const first = items[0], last = items[items.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault(); last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault(); first.focus();
    }
  });
  // A click or focus that lands outside (the skip link, say) comes back to the dialog.
  document.addEventListener("focusin", (event) => {
    if (!dialog.contains(event.target)) (secret || dialog).focus();
  });
}

// Charts: one Tab stop per chart; the arrow keys, Home and End move between its bars.
function chartKeys(event) {
  const column = event.target.closest(".columns .column:not(.pad)");
  if (!column) return;
  const columns = [...column.parentElement.querySelectorAll(".column:not(.pad)")];
  const at = columns.indexOf(column);
  const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: columns.length - 1 }[event.key];
  if (to === undefined || to < 0 || to >= columns.length) return;
  event.preventDefault();
  column.tabIndex = -1;
  columns[to].tabIndex = 0;
  columns[to].focus();
}
document.addEventListener("keydown", chartKeys);

// The phone's navigation scrolls sideways: say so with a fade on the side that has more.
function markScroll(nav) {
  const more = nav.scrollWidth - nav.clientWidth - nav.scrollLeft > 2;
  nav.classList.toggle("more-right", more);
  nav.classList.toggle("more-left", nav.scrollLeft > 2);
}

document.addEventListener("DOMContentLoaded", () => {
  syncScopes();
  const dialog = document.querySelector("[data-dialog]");
  if (dialog) trapDialog(dialog);
  for (const nav of document.querySelectorAll("[data-nav]")) {
    markScroll(nav);
    nav.addEventListener("scroll", () => markScroll(nav), { passive: true });
    window.addEventListener("resize", () => markScroll(nav));
  }
});

// On a phone, tables become cards: each cell is labelled by its column's heading. Tables
// the server labelled already keep their labels.
document.addEventListener("DOMContentLoaded", () => {
  for (const table of document.querySelectorAll("table.cards")) {
    const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    for (const row of table.querySelectorAll("tbody tr")) {
      [...row.children].forEach((cell, i) => {
        if (!cell.hasAttribute("data-label")) cell.dataset.label = heads[i] || "";
      });
    }
  }
});
