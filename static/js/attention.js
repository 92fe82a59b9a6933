// Attention heatmap: token × token weights for one layer and head (or the mean over heads).
// Data arrives one layer at a time as uint8 (weight = value / 255) and is cached here.
(() => {
  const root = document.getElementById("attention");
  if (!root || root.dataset.view !== "heatmap") return;
  const layerSel = document.getElementById("att-layer");
  const headSel = document.getElementById("att-head");
  const status = document.getElementById("att-status");
  const canvas = document.getElementById("att-canvas");
  const cellInfo = document.getElementById("att-cell");
  const ctx = canvas.getContext("2d");
  const cache = new Map(); // layer → {heads, t, data: Uint8Array, tokens}
  const LABEL = 110; // room for token labels on both axes
  let current = null;
  let cell = 0;

  // White → deep blue, perceptually even enough for a teaching view.
  function colour(v) {
    const t = Math.min(1, Math.max(0, v));
    const r = Math.round(255 - t * (255 - 36)), g = Math.round(255 - t * (255 - 48)), b = Math.round(255 - t * (255 - 154));
    return `rgb(${r},${g},${b})`;
  }
  const show = (text) => text.replace(/ /g, "·").replace(/\n/g, "↵") || "∅";

  async function fetchLayer(layer) {
    if (cache.has(layer)) return cache.get(layer);
    const started = performance.now();
    const response = await fetch(`${root.dataset.dataUrl}?${root.dataset.query}&layer=${layer}`, { credentials: "same-origin" });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
    const raw = atob(body.data);
    const data = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) data[i] = raw.charCodeAt(i);
    const entry = { heads: body.heads, layers: body.layers, t: body.tokens.length, tokens: body.tokens, data,
                    ms: Math.round(performance.now() - started), bytes: body.data.length };
    cache.set(layer, entry);
    return entry;
  }

  function matrix(entry, head) {
    const { t, heads, data } = entry;
    const out = new Float32Array(t * t);
    if (head === "mean") {
      for (let h = 0; h < heads; h++) for (let i = 0; i < t * t; i++) out[i] += data[h * t * t + i] / 255 / heads;
    } else {
      const off = Number(head) * t * t;
      for (let i = 0; i < t * t; i++) out[i] = data[off + i] / 255;
    }
    return out;
  }

  function draw(entry, head) {
    const m = matrix(entry, head);
    const t = entry.t;
    // As large as the frame allows (a lesson embeds this page in its text column), 4–22 px.
    const room = Math.max(200, (canvas.parentElement.clientWidth || 750) - LABEL - 2);
    cell = Math.max(4, Math.min(22, Math.floor(room / t)));
    const size = LABEL + t * cell;
    canvas.width = size;
    canvas.height = size;
    ctx.clearRect(0, 0, size, size);
    let max = 0;
    for (const v of m) max = Math.max(max, v);
    for (let i = 0; i < t; i++) {
      for (let j = 0; j < t; j++) {
        ctx.fillStyle = colour(m[i * t + j] / (max || 1));
        ctx.fillRect(LABEL + j * cell, LABEL + i * cell, cell, cell);
      }
    }
    ctx.fillStyle = "#1c2230";
    ctx.font = `${Math.min(12, cell)}px ui-monospace, monospace`;
    if (cell >= 7) {
      for (let i = 0; i < t; i++) {
        const label = show(entry.tokens[i]).slice(0, 12);
        ctx.textAlign = "right";
        ctx.textBaseline = "middle";
        ctx.fillText(label, LABEL - 4, LABEL + i * cell + cell / 2);
        ctx.save();
        ctx.translate(LABEL + i * cell + cell / 2, LABEL - 4);
        ctx.rotate(-Math.PI / 2);
        ctx.textAlign = "left";
        ctx.fillText(label, 0, 0);
        ctx.restore();
      }
    }
    document.getElementById("att-max").textContent = max.toFixed(2);
    current = { entry, m, max };
    root.dataset.drawn = "true";
  }

  function legend() {
    const lg = document.getElementById("att-legend").getContext("2d");
    for (let x = 0; x < 240; x++) { lg.fillStyle = colour(x / 239); lg.fillRect(x, 0, 1, 14); }
  }

  canvas.addEventListener("mousemove", (event) => {
    if (!current) return;
    const rect = canvas.getBoundingClientRect();
    const x = (event.clientX - rect.left) * (canvas.width / rect.width) - LABEL;
    const y = (event.clientY - rect.top) * (canvas.height / rect.height) - LABEL;
    const i = Math.floor(y / cell), j = Math.floor(x / cell), t = current.entry.t;
    if (i < 0 || j < 0 || i >= t || j >= t) return;
    cellInfo.textContent = `"${show(current.entry.tokens[i])}" (${i}) → "${show(current.entry.tokens[j])}" (${j}): ${current.m[i * t + j].toFixed(3)}`;
  });

  async function update() {
    const layer = Number(layerSel.value || 0);
    status.textContent = interpolate(gettext("Loading layer %(layer)s…"), { layer }, true);
    try {
      const entry = await fetchLayer(layer);
      draw(entry, headSel.value || "mean");
      const which = headSel.value === "mean"
        ? interpolate(gettext("mean of %(n)s heads"), { n: entry.heads }, true)
        : interpolate(gettext("head %(head)s"), { head: headSel.value }, true);
      status.textContent = interpolate(gettext("Layer %(layer)s, %(which)s · %(t)s tokens · fetched %(kb)s KB in %(ms)s ms"),
        { layer, which, t: entry.t, kb: Math.round(entry.bytes / 1024), ms: entry.ms }, true);
      status.classList.remove("error");
    } catch (err) {
      status.textContent = err.message;
      status.classList.add("error");
    }
  }

  async function init() {
    legend();
    // A lesson's try-it may open the map on the layer and head its text talks about.
    const layer = Number(root.dataset.layer || 0);
    status.textContent = interpolate(gettext("Loading layer %(layer)s…"), { layer }, true);
    try {
      const first = await fetchLayer(layer);
      layerSel.replaceChildren(...Array.from({ length: first.layers }, (_, i) => new Option(`${i}`, i)));
      headSel.replaceChildren(new Option(gettext("mean of heads"), "mean"), ...Array.from({ length: first.heads }, (_, i) => new Option(`${i}`, i)));
      layerSel.value = String(layer);
      if (root.dataset.head !== undefined && Number(root.dataset.head) < first.heads) headSel.value = root.dataset.head;
      await update();
    } catch (err) {
      status.textContent = err.message;
      status.classList.add("error");
    }
  }
  layerSel.addEventListener("change", update);
  headSel.addEventListener("change", update);
  init();
})();
