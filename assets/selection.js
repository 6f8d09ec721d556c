/* One selection model (dashboard/selection.py): the modifier held when a box/lasso starts
   (Shift adds, Alt subtracts) goes to the `selection-mode` store, and Plotly gets the same drag
   without the modifier, so it never merges or subtracts on its own (the server does, across panels).
   Esc clears the selection; leaving a plot hides every sample tooltip (no stuck card). */
/* The fast path for big scatter views (Layers, Data, Explore: figures whose layout.meta.selection names the
   selection space, dashboard/selection.py): a box/lasso drawn in such a graph is handled here, not by Plotly.
   The outline follows the mouse as an SVG overlay (no WebGL redraw while dragging); on release the hit set is
   computed from the box/lasso and the panel's own x/y arrays, combined with the current selection (Shift adds,
   Alt subtracts), every visible graph of the same space is highlighted on a 2-D canvas laid over it (a veil
   dims every point, the selected ones are painted in their colours on top; Plotly's WebGL scenes are not
   redrawn), and the shell's store gets a compact selection {space, n, size, bits: base64 bitmask over sample
   ids, v}. Hidden graphs are highlighted when they are shown; a figure the server redraws gets the selection
   again. A click (no drag) goes to Plotly as before (a point click selects it through the server, a click off
   the points clears). */
(function () {
  const LS = window.LayerScope = window.LayerScope || {};
  let current = null;  // the shell store's selection as last seen or set here
  let version = 0;

  function meta(gd) {
    const m = gd && gd.layout && gd.layout.meta;
    return m && m.selection ? m.selection : null;
  }
  function b64ToBytes(s) {
    const bin = atob(s), out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function bytesToB64(bytes) {
    let s = "";
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }
  // sample id of point i of trace t of gd: the lookup (ids by customdata), customdata, or the position
  function idGetter(gd, t) {
    const m = meta(gd);
    if (!gd._lsLookup || gd._lsLookupOf !== m) {
      gd._lsLookupOf = m;
      gd._lsLookup = m.lookup ? new Int32Array(b64ToBytes(m.lookup).buffer) : null;
    }
    const lookup = gd._lsLookup, cd = t.customdata;
    if (m.key === "customdata" && cd && cd.length === t.x.length) {
      return lookup ? (i) => lookup[cd[i]] : (i) => cd[i];
    }
    return (i) => i;
  }
  // a bit set over sample ids; grows as needed
  function Bits(size) { this.size = size; this.b = new Uint8Array((size + 7) >> 3); this.n = 0; }
  Bits.prototype.grow = function (size) {
    if (size <= this.size) return;
    const b = new Uint8Array((size + 7) >> 3); b.set(this.b); this.b = b; this.size = size;
  };
  Bits.prototype.has = function (i) { return i >= 0 && i < this.size && (this.b[i >> 3] >> (i & 7)) & 1; };
  Bits.prototype.count = function () { let n = 0; for (let k = 0; k < this.b.length; k++) { let v = this.b[k]; while (v) { v &= v - 1; n++; } } return n; };
  function bitsOf(sel, space) {  // the selection's ids in `space` as Bits (or null)
    if (!sel || sel.space !== space) return null;
    if (sel.bits) { const b = new Bits(sel.size || 0); const raw = b64ToBytes(sel.bits); b.b.set(raw.subarray(0, b.b.length)); return b; }
    const ids = sel.ids || [];
    if (!ids.length) return null;
    let max = 0; for (const i of ids) if (i > max) max = i;
    const b = new Bits(max + 1);
    for (const i of ids) b.b[i >> 3] |= 1 << (i & 7);
    return b;
  }
  LS.bitsOf = bitsOf;

  // -- highlight: a 2-D canvas over the plot, Plotly's WebGL untouched -----------------------------------
  // A selection is painted on a canvas laid over the graph (pointer-events: none, so hover and drags go through):
  // a veil of the plot's background over every panel's plot area (all points dimmed, still visible), then the
  // selected points in their own colours (as Plotly resolved them for WebGL) on top. Software WebGL redraws
  // 420,000 points in ~0.5 s; this paints a few thousand pixels in milliseconds. The veil and the points follow
  // zoom/pan (plotly_relayouting / plotly_relayout), a figure the server redraws (new colours, new step, hidden
  // classes: their points stay under the veil), window resizes and hidden tabs (painted when shown).
  // The record of what is highlighted: gd._lsPicked[k] (positions in trace k, sorted) — LS.picked reads it.
  const VEIL_ALPHA = 0.72;  // how much of a dimmed point the veil hides
  const HIDDEN_ALPHA = 0.1;  // a point drawn fainter than this (a class hidden in the legend) is not painted
  function visible(gd) { return gd.offsetParent !== null; }
  // the positions in trace t whose sample ids are in bits (one tight loop per id kind: 420,000 points in ms)
  function positionsIn(gd, t, bits) {
    const m = meta(gd), n = t.x.length, b = bits.b, size = bits.size, cd = t.customdata, out = [];
    idGetter(gd, t);  // fills gd._lsLookup
    const lookup = gd._lsLookup;
    if (m.key === "customdata" && cd && cd.length === n && lookup) {
      for (let i = 0; i < n; i++) { const s = lookup[cd[i]]; if (s >= 0 && s < size && (b[s >> 3] >> (s & 7)) & 1) out.push(i); }
    } else if (m.key === "customdata" && cd && cd.length === n) {
      for (let i = 0; i < n; i++) { const s = cd[i]; if (s >= 0 && s < size && (b[s >> 3] >> (s & 7)) & 1) out.push(i); }
    } else {
      for (let i = 0, e = Math.min(n, size); i < e; i++) if ((b[i >> 3] >> (i & 7)) & 1) out.push(i);
    }
    return Int32Array.from(out);
  }
  function highlight(gd, sel) {
    const m = meta(gd);
    if (!m || !gd._fullData) return;
    const bits = sel && sel.space === m.space ? bitsOf(sel, m.space) : null;
    const picked = {};
    let any = false;
    for (const k of m.traces || [0]) {
      const t = gd._fullData[k];
      if (!t || !bits) continue;
      picked[k] = positionsIn(gd, t, bits);
      any = true;
    }
    const was = !!gd._lsPicked;
    gd._lsApplied = sel; gd._lsData0 = gd.data[0]; gd._lsPending = false;
    gd._lsPicked = any ? picked : null;
    if (!any && !was) { plain(gd, m); return; }  // nothing to show, nothing shown: no paint
    gd._lsHighlights = (gd._lsHighlights || 0) + 1;  // how often this graph was highlighted (tests read it)
    plain(gd, m);
    paint(gd);
  }
  // Plotly's own selection state (a point clicked with clickmode "select" dims the WebGL batches) is dropped:
  // the overlay is the one highlight. Nothing to do (no redraw) in the usual case.
  function plain(gd, m) {
    const traces = (m.traces || [0]).filter((k) => gd._fullData[k]);
    const scenes = [];
    let dirty = false;
    for (const k of traces) {
      if (gd.data[k] && gd.data[k].selectedpoints) { delete gd.data[k].selectedpoints; dirty = true; }
      if (gd._fullData[k].selectedpoints) { gd._fullData[k].selectedpoints = null; dirty = true; }
      const cd = gd.calcdata && gd.calcdata[k], sc = cd && cd[0] && cd[0].t && cd[0].t._scene;
      if (!sc || !sc.selectBatch || !sc.scatter2d) continue;
      const idx = cd[0].t.index;
      if ((sc.selectBatch[idx] || []).length || (sc.unselectBatch[idx] || []).length) {
        const opts = new Array(sc.count); opts[idx] = sc.markerOptions[idx]; sc.scatter2d.update.apply(sc.scatter2d, opts);
        sc.selectBatch[idx] = []; sc.unselectBatch[idx] = [];
        if (scenes.indexOf(sc) < 0) scenes.push(sc);
      }
    }
    if (!scenes.length) return dirty;
    const l = gd._fullLayout;
    if (l._glcanvas && l._glcanvas.each) l._glcanvas.each(function (d) { if (d.regl) d.regl.clear({color: true, depth: true}); });
    for (const id of Object.keys(l._plots || {})) { const sp = l._plots[id]; if (sp._scene) sp._scene.draw(); }
    return true;
  }
  // the overlay canvas of gd, sized to the figure, just above Plotly's WebGL canvases (below its SVG layers)
  function canvasOf(gd) {
    const l = gd._fullLayout, box = gd.querySelector(".svg-container");
    if (!l || !box) return null;
    let c = gd._lsCanvas;
    if (!c || c.parentNode !== box) {
      c = document.createElement("canvas");
      c.className = "ls-selection-overlay";
      c.style.cssText = "position:absolute;left:0;top:0;pointer-events:none;";
      const gl = box.querySelector(".gl-container");
      box.insertBefore(c, gl ? gl.nextSibling : box.firstChild);
      gd._lsCanvas = c;
    }
    const dpr = window.devicePixelRatio || 1, w = Math.round(l.width * dpr), h = Math.round(l.height * dpr);
    if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
    c.style.width = l.width + "px"; c.style.height = l.height + "px";
    return c;
  }
  // every point's colour in trace k as WebGL draws it: 0xAABBGGRR (little-endian RGBA), cached per scene options
  const colourCache = new WeakMap();
  function colours(gd, k) {
    const t = gd._fullData[k], cd = gd.calcdata && gd.calcdata[k], stash = cd && cd[0] && cd[0].t;
    const sc = stash && stash._scene, mo = sc && sc.markerOptions && sc.markerOptions[stash.index];
    const n = t.x.length;
    if (mo && colourCache.has(mo)) return colourCache.get(mo);
    const out = new Uint32Array(n);
    const op = mo && typeof mo.opacity === "number" ? mo.opacity : 1;
    const pack = (r, g, b, a) => ((Math.round(a * 255) << 24) | (b << 16) | (g << 8) | r) >>> 0;
    const many = mo && mo.colors && mo.colors.length === n ? mo.colors : null;
    if (many) {
      for (let i = 0; i < n; i++) {
        const c = many[i];
        out[i] = pack(Math.round(c[0] * 255), Math.round(c[1] * 255), Math.round(c[2] * 255), (c[3] == null ? 1 : c[3]) * op);
      }
    } else {
      const c = mo && mo.color ? mo.color : null;  // one colour (0–255) for every point
      let v = pack(68, 68, 68, op);
      if (c && c.length !== undefined && typeof c[0] === "number" && c.length >= 3) {
        const f = c[0] > 1 || c[1] > 1 || c[2] > 1 ? 1 : 255;  // 0–255 bytes or 0–1 floats
        v = pack(Math.round(c[0] * f), Math.round(c[1] * f), Math.round(c[2] * f), (c[3] == null ? 1 : c[3] / (f === 1 ? 255 : 1)) * op);
      } else if (c && c[0] !== undefined) {
        v = pack(Math.round(c[0] * 255), Math.round(c[1] * 255), Math.round(c[2] * 255), op);
      }
      out.fill(v);
    }
    if (mo) colourCache.set(mo, out);
    return out;
  }
  function rgbOf(colour) {  // "#rrggbb" / "rgb(a)(…)" → [r, g, b] (white when unreadable)
    const s = String(colour || "").trim();
    let m = /^#([0-9a-f]{6})$/i.exec(s);
    if (m) return [0, 2, 4].map((i) => parseInt(m[1].slice(i, i + 2), 16));
    m = /^#([0-9a-f]{3})$/i.exec(s);
    if (m) return [0, 1, 2].map((i) => 17 * parseInt(m[1][i], 16));
    m = /^rgba?\(([^)]*)\)$/i.exec(s);
    if (m) return m[1].split(",").slice(0, 3).map((v) => Math.round(parseFloat(v)));
    return [255, 255, 255];
  }
  function stencil(d) {  // pixel offsets of a dot of diameter d (a square when small): {dx, dy, lo, hi}
    const r = d / 2, dx = [], dy = [], lo = -Math.floor((d - 1) / 2), hi = Math.ceil((d - 1) / 2);
    for (let y = lo; y <= hi; y++) for (let x = lo; x <= hi; x++) {
      if (d <= 4 || (x * x + y * y) <= r * r + 0.5) { dx.push(x); dy.push(y); }
    }
    return {dx: Int32Array.from(dx), dy: Int32Array.from(dy), lo, hi};
  }
  // the plot-area rectangle and linear data→pixel maps of one trace's axes, from their current ranges (which
  // Plotly updates while a pan/zoom is dragged, before the axes are redrawn)
  function frame(gd, t) {
    const l = gd._fullLayout;
    const xa = l[t.xaxis.replace("x", "xaxis")], ya = l[t.yaxis.replace("y", "yaxis")];
    if (!xa || !ya || !xa.range || !ya.range) return null;
    const x0 = xa.r2l(xa.range[0]), x1 = xa.r2l(xa.range[1]), y0 = ya.r2l(ya.range[0]), y1 = ya.r2l(ya.range[1]);
    if (!(x1 !== x0) || !(y1 !== y0)) return null;
    return {left: xa._offset, top: ya._offset, width: xa._length, height: ya._length,
            sx: xa._length / (x1 - x0), x0, sy: ya._length / (y1 - y0), y0, id: t.xaxis + t.yaxis};
  }
  function paint(gd) {
    const m = meta(gd);
    if (!m || !gd._fullData || !gd._fullLayout) return;
    const picked = gd._lsPicked;
    const c = picked || gd._lsCanvas ? canvasOf(gd) : null;
    if (!c) return;
    const ctx = c.getContext("2d");
    if (!picked) {
      ctx.clearRect(0, 0, c.width, c.height); c.style.display = "none";
      gd._lsPainted = null;
      return;
    }
    const dpr = window.devicePixelRatio || 1, W = c.width, H = c.height, t0 = performance.now();
    let img = gd._lsImage;  // one ImageData per canvas size, cleared and reused (no 4 MB garbage per paint)
    if (!img || img.width !== W || img.height !== H) img = gd._lsImage = ctx.createImageData(W, H);
    const px = new Uint32Array(img.data.buffer);
    px.fill(0);
    const bg = rgbOf(gd._fullLayout.plot_bgcolor);
    const veil = ((Math.round(VEIL_ALPHA * 255) << 24) | (bg[2] << 16) | (bg[1] << 8) | bg[0]) >>> 0;
    const frames = {}, counts = [];
    for (const k of m.traces || [0]) {  // the veil over every panel's plot area
      const t = gd._fullData[k];
      if (!t || t.visible !== true) continue;
      const f = frame(gd, t);
      if (!f || frames[f.id]) continue;
      frames[f.id] = f;
      const xl = Math.max(0, Math.round(f.left * dpr)), xr = Math.min(W, Math.round((f.left + f.width) * dpr));
      const yt = Math.max(0, Math.round(f.top * dpr)), yb = Math.min(H, Math.round((f.top + f.height) * dpr));
      for (let y = yt; y < yb; y++) px.fill(veil, y * W + xl, y * W + xr);
    }
    const t1 = performance.now();
    let tc = 0;
    for (const k of m.traces || [0]) {  // the selected points, vivid, on top
      const t = gd._fullData[k], sel = picked[k];
      if (!t || t.visible !== true || !sel || !sel.length) { counts.push(0); continue; }
      const tc0 = performance.now(), col = colours(gd, k);
      tc += performance.now() - tc0;
      const f = frame(gd, t), xs = t.x, ys = t.y;
      const size = typeof t.marker.size === "number" ? t.marker.size : 3;
      const dots = stencil(Math.max(3, Math.round((size + 2) * dpr)));
      const xl = Math.round(f.left * dpr), xr = Math.round((f.left + f.width) * dpr);
      const yt = Math.round(f.top * dpr), yb = Math.round((f.top + f.height) * dpr);
      const ddx = dots.dx, ddy = dots.dy, nd = ddx.length, off = new Int32Array(nd), hidden = HIDDEN_ALPHA * 255;
      for (let d = 0; d < nd; d++) off[d] = ddy[d] * W + ddx[d];
      const ax = (f.left - f.x0 * f.sx) * dpr, bx = f.sx * dpr;  // pixel = a + b · data
      const ay = (f.top + f.height + f.y0 * f.sy) * dpr, by = -f.sy * dpr;
      let painted = 0;
      for (let j = 0; j < sel.length; j++) {
        const i = sel[j], v = col[i];
        if ((v >>> 24) < hidden) continue;  // a hidden class stays hidden
        const cx = Math.round(ax + xs[i] * bx), cy = Math.round(ay + ys[i] * by);
        if (!(cx >= xl && cx < xr && cy >= yt && cy < yb)) continue;  // outside the view (zoomed)
        const solid = (v | 0xff000000) >>> 0, at = cy * W + cx;
        if (cx + dots.lo >= xl && cx + dots.hi < xr && cy + dots.lo >= yt && cy + dots.hi < yb) {
          for (let d = 0; d < nd; d++) px[at + off[d]] = solid;
        } else {  // at the plot area's edge: clipped
          for (let d = 0; d < nd; d++) {
            const x = cx + ddx[d], y = cy + ddy[d];
            if (x >= xl && x < xr && y >= yt && y < yb) px[y * W + x] = solid;
          }
        }
        painted++;
      }
      counts.push(painted);
    }
    const t2 = performance.now();
    ctx.putImageData(img, 0, 0);
    for (const k of m.above || []) rings(gd, ctx, k, dpr);
    c.style.display = "";
    gd._lsPainted = {v: gd._lsApplied && gd._lsApplied.v, counts,  // bench and tests read it
                     ms: {veil: t1 - t0, colours: tc, points: t2 - t1 - tc, put: performance.now() - t2}};
  }
  // traces drawn by the server over the selection (Explore's rings around a small one): redrawn on the overlay
  function rings(gd, ctx, k, dpr) {
    const t = gd._fullData[k];
    if (!t || t.visible !== true || !t.x || !t.x.length) return;
    const f = frame(gd, t);
    if (!f) return;
    const mk = t.marker || {}, line = mk.line || {};
    ctx.save();
    ctx.beginPath();
    ctx.rect(f.left * dpr, f.top * dpr, f.width * dpr, f.height * dpr);
    ctx.clip();
    ctx.strokeStyle = typeof mk.color === "string" ? mk.color : "#2c3e50";
    ctx.lineWidth = (line.width || 1.5) * dpr;
    ctx.beginPath();
    const r = ((typeof mk.size === "number" ? mk.size : 14) / 2) * dpr;
    for (let i = 0; i < t.x.length; i++) {
      const cx = (f.left + (t.x[i] - f.x0) * f.sx) * dpr, cy = (f.top + f.height - (t.y[i] - f.y0) * f.sy) * dpr;
      ctx.moveTo(cx + r, cy); ctx.arc(cx, cy, r, 0, 2 * Math.PI);
    }
    ctx.stroke();
    ctx.restore();
  }
  // positions highlighted in trace k of gd: the overlay's record in a big view, Plotly's selectedpoints elsewhere
  LS.picked = function (gd, k) {
    const m = meta(gd);
    if (m && (m.traces || [0]).indexOf(k) >= 0) return gd._lsPicked && gd._lsPicked[k] ? Array.from(gd._lsPicked[k]) : null;
    const t = gd.data && gd.data[k];
    return t && t.selectedpoints && t.selectedpoints.length !== undefined ? Array.from(t.selectedpoints) : null;
  };
  // repaint on the next frame (zoom, pan, autoscale, resize, a redraw): the record is kept, only pixels change
  function repaintSoon(gd) {
    if (gd._lsFrame) return;
    gd._lsFrame = requestAnimationFrame(function () {
      gd._lsFrame = 0;
      if (!visible(gd) || !meta(gd)) return;
      if (gd._lsData0 !== gd.data[0] || gd._lsPending) highlight(gd, current); else paint(gd);
    });
  }
  function hook(gd) {
    if (!gd.on || !gd._ev || gd._ev._lsOverlay) return;
    gd._ev._lsOverlay = true;
    ["plotly_relayouting", "plotly_relayout", "plotly_afterplot", "plotly_restyle", "plotly_redraw"].forEach(
      (ev) => gd.on(ev, function () { if (gd._lsPicked || gd._lsCanvas) repaintSoon(gd); }));
  }
  window.addEventListener("resize", function () {
    for (const gd of fastGraphs()) if (gd._lsPicked) repaintSoon(gd);
  });
  // a drawn graph's point colours are read while the page is idle, so a first selection does not wait on them
  function warm(gd) {
    const m = meta(gd);
    if (!m || !gd.calcdata || gd._lsWarm === gd.calcdata) return;
    const cd = gd._lsWarm = gd.calcdata, ks = (m.traces || [0]).slice();
    const idle = window.requestIdleCallback || function (f) { return setTimeout(f, 50); };
    (function next() {
      if (!ks.length) return;
      idle(function () {
        const k = ks.shift();
        if (gd.calcdata === cd && gd._fullData && gd._fullData[k] && cd[k]) colours(gd, k);
        next();
      });
    })();
  }
  function fastGraphs() {
    return Array.from(document.querySelectorAll(".js-plotly-plot")).filter((gd) => meta(gd));
  }
  function applyAll(sel, except) {
    for (const gd of fastGraphs()) {
      if (gd === except) continue;
      if (visible(gd)) highlight(gd, sel); else gd._lsPending = true;  // hidden tabs: when shown
    }
  }
  // the store changed (a server-made selection, Clear, Esc): highlight; our own writes are already shown
  LS.selectionChanged = function (sel) {
    if (sel && sel.v && current && current.v === sel.v) return;
    current = sel;
    applyAll(sel, null);
  };
  LS.current = function () { return current; };
  setInterval(function () {  // a graph shown (its tab opened) or redrawn by the server gets the selection
    for (const gd of fastGraphs()) {
      hook(gd);
      if (!visible(gd) || !gd._fullData) continue;
      warm(gd);
      if (gd._lsPending || gd._lsData0 !== gd.data[0]) highlight(gd, current);
      else if (gd._lsPicked && gd._lsCanvas && gd._fullLayout
               && (gd._lsCanvas.style.width !== gd._fullLayout.width + "px"
                   || gd._lsCanvas.style.height !== gd._fullLayout.height + "px")) paint(gd);  // resized
    }
  }, 200);

  // -- the drag ----------------------------------------------------------------------------------------
  let drag = null;
  function axes(gd, subplot) {
    const m = /^(x\d*)(y\d*)$/.exec(subplot || "");
    if (!m) return null;
    const l = gd._fullLayout;
    const xa = l["xaxis" + m[1].slice(1)], ya = l["yaxis" + m[2].slice(1)];
    return xa && ya ? {xa, ya, x: m[1], y: m[2]} : null;
  }
  function overlay(gd) {
    const r = gd.getBoundingClientRect();
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "ls-select-outline");
    svg.style.cssText = `position:fixed;left:${r.left}px;top:${r.top}px;width:${r.width}px;height:${r.height}px;` +
      "pointer-events:none;z-index:1000;overflow:visible";
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("style", "fill:rgba(0,0,0,0.06);stroke:#2c3e50;stroke-width:1;stroke-dasharray:4,3");
    svg.appendChild(path);
    document.body.appendChild(svg);
    return {svg, path, left: r.left, top: r.top};
  }
  function draw() {
    drag.frame = 0;
    const pts = drag.lasso ? drag.pts : box(drag.pts[0], drag.pts[drag.pts.length - 1]);
    drag.ov.path.setAttribute("d", "M" + pts.map((p) => `${p[0] - drag.ov.left},${p[1] - drag.ov.top}`).join("L") + "Z");
  }
  function box(a, b) { return [a, [b[0], a[1]], b, [a[0], b[1]]]; }
  LS.startDrag = function (e, gd, target) {
    const ax = axes(gd, target.getAttribute("data-subplot"));
    if (!ax) return false;
    const mode = e.shiftKey ? "add" : (e.altKey ? "subtract" : "replace");
    drag = {gd, target, ax, mode, lasso: gd._fullLayout.dragmode === "lasso", pts: [[e.clientX, e.clientY]],
            down: e, moved: false, ov: null, frame: 0};
    return true;
  };
  function onMove(e) {
    if (!drag) return;
    e.stopImmediatePropagation();
    const p = [e.clientX, e.clientY], a = drag.pts[0];
    if (!drag.moved && Math.abs(p[0] - a[0]) + Math.abs(p[1] - a[1]) < 4) return;
    if (!drag.moved) {
      drag.moved = true;
      drag.ov = overlay(drag.gd);
      if (LS.hideTooltips) LS.hideTooltips(false);  // no card stays over a box being drawn
    }
    if (drag.lasso) drag.pts.push(p); else drag.pts[1] = p;
    if (!drag.frame) drag.frame = requestAnimationFrame(draw);
  }
  function onUp(e) {
    if (!drag) return;
    const d = drag;
    drag = null;
    if (d.frame) cancelAnimationFrame(d.frame);
    if (d.ov) d.ov.svg.remove();
    if (!d.moved) { LS.passClick(d, e); return; }
    e.stopImmediatePropagation();
    select(d);
    if (LS.hideTooltips) setTimeout(function () { LS.hideTooltips(false); }, 0);  // nor after it (a late answer)
  }
  window.addEventListener("mousemove", onMove, true);
  window.addEventListener("mouseup", onUp, true);

  function hits(d) {  // Bits of the sample ids inside the box/lasso in the drag's panel
    const {gd, ax} = d, r = gd.getBoundingClientRect();
    const poly = (d.lasso ? d.pts : box(d.pts[0], d.pts[d.pts.length - 1])).map((p) =>
      [ax.xa.p2l(p[0] - r.left - ax.xa._offset), ax.ya.p2l(p[1] - r.top - ax.ya._offset)]);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const [x, y] of poly) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
    const m = meta(gd), picked = [];
    let max = -1;
    for (const k of m.traces || [0]) {
      const t = gd._fullData[k];
      if (!t || t.xaxis !== ax.x || t.yaxis !== ax.y || t.visible !== true) continue;
      const id = idGetter(gd, t), xs = t.x, ys = t.y, n = xs.length;
      for (let i = 0; i < n; i++) {
        const x = xs[i], y = ys[i];
        if (x < x0 || x > x1 || y < y0 || y > y1) continue;
        if (d.lasso && !inside(poly, x, y)) continue;
        const s = id(i); picked.push(s); if (s > max) max = s;
      }
    }
    return {picked, max};
  }
  function inside(poly, x, y) {  // even-odd rule
    let c = false;
    for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
      const [xi, yi] = poly[i], [xj, yj] = poly[j];
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) c = !c;
    }
    return c;
  }
  LS.timings = [];  // per box/lasso: ms to find the hits, to highlight the drawn graph, the others (bench reads)
  function select(d) {
    const t0 = performance.now();
    const m = meta(d.gd), {picked, max} = hits(d);
    const t1 = performance.now();
    const old = d.mode === "replace" ? null : bitsOf(current, m.space);
    if (d.mode === "subtract" && !old) return;  // nothing to take from
    const bits = old || new Bits(0);
    bits.grow(Math.max(max + 1, bits.size, m.size || 0));
    if (d.mode === "subtract") for (const s of picked) bits.b[s >> 3] &= ~(1 << (s & 7));
    else for (const s of picked) bits.b[s >> 3] |= 1 << (s & 7);
    const n = bits.count();
    const sel = n ? {space: m.space, n, size: bits.size, bits: bytesToB64(bits.b), v: `${Date.now()}-${++version}`}
                  : {space: m.space, ids: [], v: `${Date.now()}-${++version}`};
    current = sel;
    highlight(d.gd, sel);  // the panel drawn in first, then the others
    const t2 = performance.now();
    applyAll(sel, d.gd);
    const t3 = performance.now(), timing = {hits: t1 - t0, drawn: t2 - t1, others: t3 - t2};
    LS.timings.push(timing);
    if (LS.timings.length > 100) LS.timings.shift();
    if (window.dash_clientside && window.dash_clientside.set_props) window.dash_clientside.set_props("selection", {data: sel});
    timing.store = performance.now() - t3;  // handing the selection to Dash (its callbacks run later)
    requestAnimationFrame(function () { timing.frame = performance.now() - t0; });  // the next frame begins
  }
})();

(function () {
  const LS = window.LayerScope;
  let last = null;
  function setMode(mode) {
    if (mode === last || !window.dash_clientside || !window.dash_clientside.set_props) return;
    last = mode;
    window.dash_clientside.set_props("selection-mode", {data: mode});
  }
  window.addEventListener("mousedown", function (e) {
    const t = e.target;
    if (!e.isTrusted || !t || !t.closest || !t.closest(".js-plotly-plot")) return;  // not our own copy below
    const gd = t.closest(".js-plotly-plot"), m = gd.layout && gd.layout.meta;
    if (e.button === 0 && m && m.selection && t.classList && t.classList.contains("nsewdrag") && gd._fullLayout
        && (gd._fullLayout.dragmode === "select" || gd._fullLayout.dragmode === "lasso") && LS.startDrag(e, gd, t)) {
      e.stopImmediatePropagation();  // a big view's box/lasso: drawn and selected in the page (the fast path above)
      e.preventDefault();
      return;
    }
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
  // a click (no drag) in a big view goes to Plotly as it came: a point click selects it, a click off the points
  // clears (the modifier through `selection-mode`, as for every view)
  LS.passClick = function (d, up) {
    setMode(d.mode);
    inMouse = true;
    setTimeout(function () { inMouse = false; }, 0);
    const init = (ev, buttons) => ({
      bubbles: true, cancelable: true, composed: true, view: window, detail: ev.detail, clientX: ev.clientX,
      clientY: ev.clientY, screenX: ev.screenX, screenY: ev.screenY, button: 0, buttons: buttons});
    const onPoint = !!(d.gd._hoverdata && d.gd._hoverdata.length);  // Plotly's hover: the pointer is on a point
    d.target.dispatchEvent(new MouseEvent("mousedown", init(d.down, 1)));
    d.target.dispatchEvent(new MouseEvent("mouseup", init(up, 0)));
    // off the points: Plotly, which never held this selection, says nothing; the click clears it here
    if (!onPoint && !d.gd.closest(".keeps-selection")) clearSelection();
  };
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
  LS.hideTooltips = hideTooltips;
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
