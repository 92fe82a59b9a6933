// Layer view (logit lens) and switch-offs: draws what the model worker computed
// (playground/lens_views.py). Probabilities arrive as integers p * scale.
(() => {
  const root = document.getElementById("lens");
  if (!root) return;
  const S = JSON.parse(document.getElementById("lens-strings").textContent);
  const status = document.getElementById("lens-status");
  const tokenBox = document.getElementById("lens-token");
  const details = document.getElementById("lens-details");
  const fmt = (s, params) => s.replace(/%\((\w+)\)s/g, (_, k) => params[k]);
  const show = (text) => (text || "").replace(/ /g, "·").replace(/\n/g, "↵") || "∅";
  const pct = (p) => `${(100 * p).toFixed(2)}%`;
  const grids = {}; // "a" / "b" → the grid payload
  let selected = null; // {layer, pos}

  function rgb(p) { // white → deep blue
    const t = Math.min(1, Math.max(0, p));
    return [Math.round(255 - t * 219), Math.round(255 - t * 207), Math.round(255 - t * 101)];
  }
  function colour(p) { const [r, g, b] = rgb(p); return `rgb(${r},${g},${b})`; }
  // White text where the cell is darker than WCAG's crossover (relative luminance 0.18),
  // black above it: either way the text keeps 4.5:1 against the cell.
  function isDark(p) {
    const lin = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    const [r, g, b] = rgb(p).map(lin);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.18;
  }

  async function getJSON(url) {
    const started = performance.now();
    const response = await fetch(url, { credentials: "same-origin" });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
    body.ms = Math.round(performance.now() - started);
    return body;
  }

  function say(text, error) {
    status.textContent = text;
    status.classList.toggle("error", !!error);
  }

  const tokenParam = () => encodeURIComponent(tokenBox.value);

  async function loadGrid(which, query) {
    const body = await getJSON(`${root.dataset.gridUrl}?${query}&token=${tokenParam()}`);
    grids[which] = body;
    return body;
  }

  function top1(grid, layer, pos) { return grid.top_ids[layer - grid.from][pos][0]; }

  function draw(which, table) {
    const grid = grids[which];
    const other = grids[which === "a" ? "b" : "a"];
    const t = grid.tokens.length;
    table.replaceChildren();
    table.setAttribute("aria-label", S.grid_label);
    const head = table.createTHead().insertRow();
    const corner = document.createElement("th");
    corner.scope = "col";
    corner.textContent = S.layer;
    head.appendChild(corner);
    grid.tokens.forEach((tok) => {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = show(tok);
      head.appendChild(th);
    });
    const body = table.createTBody();
    for (let layer = grid.to; layer >= grid.from; layer--) { // the final layer on top
      const row = body.insertRow();
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = layer;
      row.appendChild(th);
      for (let pos = 0; pos < t; pos++) {
        const id = top1(grid, layer, pos);
        const p = grid.top_probs[layer - grid.from][pos][0] / grid.scale;
        const cell = row.insertCell();
        const button = document.createElement("button");
        button.type = "button";
        button.className = "lens-cell";
        button.dataset.layer = layer;
        button.dataset.pos = pos;
        button.dataset.which = which;
        button.textContent = show(grid.vocab[id]);
        button.style.background = colour(p);
        if (isDark(p)) button.classList.add("dark");
        if (id === grid.final_top[pos]) button.classList.add("final");
        if (grid.pick && grid.pick.ranks[layer - grid.from][pos] === 1) button.classList.add("pick-top");
        if (other && other.tokens.length === t && top1(other, layer, pos) !== id) {
          button.classList.add("differs");
          button.title = S.differs;
        }
        button.setAttribute("aria-label", `${S.layer} ${layer}, ${S.position} ${pos} (${show(grid.tokens[pos])}): `
          + `${show(grid.vocab[id])} ${pct(p)}`);
        cell.appendChild(button);
      }
    }
  }

  function detailsFor(which, layer, pos) {
    const grid = grids[which];
    const box = document.createElement("div");
    box.className = "lens-detail";
    const h = document.createElement("h3");
    h.textContent = `${which === "b" ? root.dataset.compare : root.dataset.model} · ${fmt(S.cell, { layer, token: show(grid.tokens[pos]) })}`;
    box.appendChild(h);
    const list = document.createElement("ol");
    list.className = "lens-top5";
    grid.top_ids[layer - grid.from][pos].forEach((id, k) => {
      const li = document.createElement("li");
      li.textContent = `${show(grid.vocab[id])} — ${pct(grid.top_probs[layer - grid.from][pos][k] / grid.scale)}`;
      list.appendChild(li);
    });
    box.appendChild(list);
    const final = document.createElement("p");
    final.textContent = fmt(S.final, { token: show(grid.vocab[grid.final_top[pos]]), layer: grid.first_top[pos] });
    box.appendChild(final);
    if (grid.pick) {
      const first = grid.pick.first_top[pos];
      const p = document.createElement("p");
      p.className = "lens-pick-first";
      p.textContent = first === null ? fmt(S.pick_never, { token: show(grid.pick.text) })
        : fmt(S.pick_first, { token: show(grid.pick.text), layer: first });
      box.appendChild(p);
      const table = document.createElement("table");
      table.className = "lens-pick";
      const hr = table.createTHead().insertRow();
      [S.layer, S.rank, S.probability].forEach((label) => {
        const th = document.createElement("th");
        th.scope = "col";
        th.textContent = label;
        hr.appendChild(th);
      });
      const tb = table.createTBody();
      for (let l = grid.to; l >= grid.from; l--) {
        const r = tb.insertRow();
        r.insertCell().textContent = l;
        r.insertCell().textContent = grid.pick.ranks[l - grid.from][pos];
        r.insertCell().textContent = pct(grid.pick.probs[l - grid.from][pos] / grid.scale);
        if (grid.pick.ranks[l - grid.from][pos] === 1) r.className = "pick-top";
      }
      box.appendChild(table);
    }
    return box;
  }

  function select(layer, pos) {
    selected = { layer, pos };
    root.querySelectorAll(".lens-cell.selected").forEach((b) => b.classList.remove("selected"));
    root.querySelectorAll(`.lens-cell[data-layer="${layer}"][data-pos="${pos}"]`).forEach((b) => b.classList.add("selected"));
    details.replaceChildren(...Object.keys(grids).sort().map((w) => detailsFor(w, layer, pos)));
  }

  async function refresh() {
    if (!details) return;
    say(S.loading);
    try {
      const jobs = [loadGrid("a", root.dataset.query)];
      if (root.dataset.compareQuery) jobs.push(loadGrid("b", root.dataset.compareQuery));
      const [a] = await Promise.all(jobs);
      draw("a", document.getElementById("lens-grid"));
      if (grids.b) draw("b", document.getElementById("lens-grid-b"));
      const t = a.tokens.length;
      select(selected ? selected.layer : a.to, selected ? selected.pos : t - 1); // opens on the last position
      document.querySelectorAll(".lens-wrap").forEach((w) => { w.scrollLeft = w.scrollWidth; });
      say(fmt(S.ms, { ms: a.ms }));
      root.dataset.drawn = "true";
    } catch (err) {
      say(err.message, true);
    }
  }

  root.addEventListener("click", (event) => {
    const cell = event.target.closest(".lens-cell");
    if (cell) select(Number(cell.dataset.layer), Number(cell.dataset.pos));
  });
  tokenBox.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); refresh(); } });

  // --- switch-offs ---------------------------------------------------------------------
  const spec = document.getElementById("lens-ablate-spec");
  const result = document.getElementById("lens-ablate-result");
  if (!spec) { // a lesson's layer view alone
    document.getElementById("lens-token-go").addEventListener("click", refresh);
    refresh();
    return;
  }
  const mode = () => root.querySelector('input[name="lens-mode"]:checked').value;

  function topList(items, title) {
    const box = document.createElement("div");
    const h = document.createElement("h4");
    h.textContent = title;
    const ol = document.createElement("ol");
    ol.className = "lens-top5";
    items.forEach((it) => {
      const li = document.createElement("li");
      li.textContent = `${show(it.text)} — ${pct(it.p)}`;
      ol.appendChild(li);
    });
    box.append(h, ol);
    return box;
  }

  function ablationCard(name, body) {
    const card = document.createElement("div");
    card.className = "lens-ablation";
    const h = document.createElement("h3");
    h.textContent = `${name} · ${body.ablated.join(", ") || "—"} (${S[body.mode] || body.mode})`;
    card.appendChild(h);
    if (body.pick) {
      const p = document.createElement("p");
      p.className = "lens-change";
      p.dataset.after = body.pick.after;
      const change = (100 * body.pick.change).toFixed(2);
      p.textContent = fmt(S.change, { token: show(body.pick.text), before: pct(body.pick.before),
                                      after: pct(body.pick.after), change: body.pick.change >= 0 ? `+${change}` : change });
      card.appendChild(p);
    }
    const cols = document.createElement("div");
    cols.className = "lens-before-after";
    cols.append(topList(body.before, S.before), topList(body.after, S.after));
    card.appendChild(cols);
    return card;
  }

  async function ablate() {
    say(S.loading);
    const extra = `&ablate=${encodeURIComponent(spec.value)}&mode=${mode()}&token=${tokenParam()}`;
    try {
      const jobs = [getJSON(`${root.dataset.ablateUrl}?${root.dataset.query}${extra}`)];
      if (root.dataset.compareQuery) jobs.push(getJSON(`${root.dataset.ablateUrl}?${root.dataset.compareQuery}${extra}`));
      const bodies = await Promise.all(jobs);
      result.replaceChildren(...bodies.map((b, i) => ablationCard(i ? root.dataset.compare : root.dataset.model, b)));
      say(fmt(S.ms, { ms: bodies[0].ms }));
      root.dataset.ablated = "true";
    } catch (err) {
      say(err.message, true);
    }
  }
  const ablateIfAsked = () => { if (spec.value.trim()) ablate(); };

  document.getElementById("lens-token-go").addEventListener("click", () => { refresh(); ablateIfAsked(); });
  document.getElementById("lens-ablate-go").addEventListener("click", ablate);
  spec.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); ablate(); } });
  root.querySelectorAll(".lens-preset").forEach((button) => button.addEventListener("click", () => {
    const d = button.dataset;
    const params = new URLSearchParams(root.dataset.query);
    if (params.get("text") !== d.text) { // another prompt: open it, with the preset filled in
      const here = new URLSearchParams(window.location.search);
      here.delete("run");
      here.set("model", root.dataset.model);
      here.set("text", d.text);
      here.set("token", d.token);
      here.set("ablate", d.ablate);
      here.set("mode", d.mode);
      window.location.search = here.toString();
      return;
    }
    tokenBox.value = d.token;
    spec.value = d.ablate;
    root.querySelector(`input[name="lens-mode"][value="${d.mode}"]`).checked = true;
    ablate();
  }));

  refresh();
  ablateIfAsked();
})();
