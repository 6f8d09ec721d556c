// Class legend chips (dashboard/legend.py): a click hides/shows the class, a double-click isolates it.
// The browser sends click, click, dblclick for a double-click; waiting a moment after a mouse click
// tells the two apart, then the chip's hidden twin button is pressed once (Enter: at once).
let legendPending = null;
document.addEventListener("click", (event) => {
  const chip = event.target.closest(".class-chip");
  if (!chip) return;
  const twin = (kind) => chip.parentElement.querySelector(`.${kind}[data-k="${chip.dataset.k}"]`);
  clearTimeout(legendPending);
  if (event.detail >= 2) { twin("class-only").click(); return; }
  legendPending = setTimeout(() => twin("class-toggle").click(), event.detail === 0 ? 0 : 250);
});
