/* One selection model (dashboard/selection.py): the modifier held when a box/lasso starts
   (Shift adds, Alt subtracts) goes to the `selection-mode` store, and Plotly gets the same drag
   without the modifier, so it never merges or subtracts on its own (the server does, across panels).
   Esc clears the selection; leaving a plot hides every sample tooltip (no stuck card). */
(function () {
  let last = null;
  function setMode(mode) {
    if (mode === last || !window.dash_clientside || !window.dash_clientside.set_props) return;
    last = mode;
    window.dash_clientside.set_props("selection-mode", {data: mode});
  }
  window.addEventListener("mousedown", function (e) {
    const t = e.target;
    if (!e.isTrusted || !t || !t.closest || !t.closest(".js-plotly-plot")) return;  // not our own copy below
    const mode = e.shiftKey ? "add" : (e.altKey ? "subtract" : "replace");
    setMode(mode);
    if (mode !== "replace" && t.classList && t.classList.contains("drag")) {
      e.stopImmediatePropagation();
      e.preventDefault();
      t.dispatchEvent(new MouseEvent("mousedown", {
        bubbles: true, cancelable: true, composed: true, view: window, detail: e.detail,
        clientX: e.clientX, clientY: e.clientY, screenX: e.screenX, screenY: e.screenY,
        button: e.button, buttons: e.buttons, ctrlKey: e.ctrlKey, metaKey: e.metaKey}));
    }
  }, true);
  // A deselect the person made (a click on empty space, a double-click) clears the one selection;
  // Plotly also emits one when the server drops its box outline, which must not. The person's comes
  // synchronously inside a mouse event, the other from a server reply: tell them apart by that.
  let inMouse = false;
  ["mouseup", "click", "dblclick"].forEach(function (type) {
    window.addEventListener(type, function () { inMouse = true; setTimeout(function () { inMouse = false; }, 0); }, true);
  });
  function clearSelection() {
    const b = document.getElementById("selection-clear");
    if (b && !b.disabled) b.click();
  }
  setInterval(function () {
    document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
      if (!gd.on || !gd._ev || gd._ev._lsHooked) return;
      gd._ev._lsHooked = true;
      gd.on("plotly_deselect", function () {
        // the Latent GNE plane keeps its selection on a click: the click places the move's handle
        if (inMouse && !gd.closest(".keeps-selection")) clearSelection();
      });
    });
  }, 500);
  window.addEventListener("keydown", function (e) {
    if (e.key === "Escape") clearSelection();
  });
  function hideTooltips(settledOnly) {
    document.querySelectorAll(".dcc-tooltip-bounding-box").forEach(function (box) {
      const tip = box.querySelector(".hover-content[id]");
      if (settledOnly && box.querySelector("[data-dash-is-loading='true']")) return;
      if (tip && box.style.display !== "none" && window.dash_clientside && window.dash_clientside.set_props) {
        window.dash_clientside.set_props(tip.id, {show: false});
      }
    });
  }
  // the pointer left a plot (or a lasso ended off a point): no card may stay over the page
  document.addEventListener("mouseout", function (e) {
    const from = e.target && e.target.closest && e.target.closest(".js-plotly-plot");
    const to = e.relatedTarget && e.relatedTarget.closest && e.relatedTarget.closest(".js-plotly-plot");
    if (from && from !== to) hideTooltips(false);
  }, true);
  // A card answered late (its hover was before a lasso, or before the pointer left) must not stay
  // up: while a drag runs or the pointer is off every plot, visible cards are hidden.
  let overPlot = false, dragging = false;
  document.addEventListener("mousemove", function (e) {
    overPlot = !!(e.target && e.target.closest && e.target.closest(".js-plotly-plot"));
  }, true);
  document.addEventListener("mousedown", function (e) {
    dragging = !!(e.target && e.target.closest && e.target.closest(".js-plotly-plot"));
    if (dragging) hideTooltips(false);
  }, true);
  document.addEventListener("mouseup", function () { dragging = false; }, true);
  setInterval(function () {
    if (!overPlot) hideTooltips(true);
  }, 200);
  // a new dataset: whatever card was up belongs to the old one
  document.addEventListener("change", function (e) {
    if (e.target && e.target.id === "dataset-picker") hideTooltips(false);
  }, true);
  window.addEventListener("mouseup", function (e) {
    if (e.target && e.target.closest && e.target.closest(".js-plotly-plot")) setTimeout(function () { hideTooltips(false); }, 0);
  }, true);
})();
