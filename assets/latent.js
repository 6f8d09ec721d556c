/* The Latent planes keep an equal aspect (yaxis.scaleanchor = "x"). On every window resize Plotly widens
   one axis's range to keep it, and never narrows it back: a window made short for a moment (or a slow
   full-page screenshot, which collapses the viewport while it captures) left the plane zoomed far out, and
   a box drawn next covered other points. Unless the person zoomed or panned, a resize starts again from
   the ranges the server drew (layout.meta.ranges, dashboard/views/latent/figures.py). */
(function () {
  const PLANES = "#latent-gne-scatter .js-plotly-plot, #latent-vae-scatter .js-plotly-plot";
  function ranges(gd) {
    const meta = gd.layout && gd.layout.meta;
    return meta && Array.isArray(meta.ranges) && meta.ranges.length === 2 ? meta.ranges : null;
  }
  setInterval(function () {
    document.querySelectorAll(PLANES).forEach(function (gd) {
      if (!gd.on || !gd._ev || gd._ev._lsRanges) return;
      gd._ev._lsRanges = true;
      gd.on("plotly_relayout", function (e) {
        const drawn = ranges(gd);
        if (!e || !drawn) return;
        const key = JSON.stringify(drawn);
        if (gd._lsDrawn !== key) { gd._lsDrawn = key; gd._lsZoomed = false; }  // a new figure: not zoomed
        // a person's zoom, pan or reset names axis bounds ("xaxis.range[0]", "xaxis.autorange"); ours below
        // sets whole ranges ("xaxis.range")
        if (Object.keys(e).some(function (k) { return /^[xy]axis\.(range\[|autorange)/.test(k); })) {
          gd._lsZoomed = true;
        }
        if (e.autosize && !gd._lsZoomed && window.Plotly) {
          window.Plotly.relayout(gd, {"xaxis.range": drawn[0].slice(), "yaxis.range": drawn[1].slice()});
        }
      });
    });
  }, 500);
})();
