// Base vs fine-tuned, or any two models: the same prompt to both, one playground socket each
// (protocol in docs/PROTOCOL.md), drawn side by side as the tokens arrive.
(() => {
  const root = document.getElementById("compare");
  if (!root) return;
  const form = document.getElementById("compare-form");
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const sides = { base: root.dataset.base, tuned: root.dataset.tuned };
  const sockets = {};

  function run(side, model, prompt, mode, maxNew) {
    const out = document.getElementById("out-" + side);
    const status = document.getElementById("status-" + side);
    out.textContent = "";
    status.textContent = gettext("Connecting…");
    if (sockets[side]) sockets[side].close();
    const socket = new WebSocket(scheme + location.host + root.dataset.wsPath);
    sockets[side] = socket;
    socket.addEventListener("open", () => {
      status.textContent = gettext("Waiting for the model…");
      socket.send(JSON.stringify({ type: "start", model, mode, prompt, request_id: side + "-" + Date.now(),
                                   params: { max_new_tokens: maxNew, temperature: 0 } }));
    });
    socket.addEventListener("message", (event) => {
      const msg = JSON.parse(event.data);
      if (msg.type === "started") status.textContent = gettext("Generating…");
      else if (msg.type === "token") out.append(document.createTextNode(msg.text));
      else if (msg.type === "done") { status.textContent = interpolate(gettext("Done (%(reason)s)"), { reason: msg.finish_label }, true); root.dataset[side + "Done"] = "1"; socket.close(); }
      else if (msg.type === "error") { status.textContent = msg.message; socket.close(); }
    });
    socket.addEventListener("error", () => { status.textContent = gettext("Could not connect."); });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const prompt = form.elements.prompt.value;
    const mode = form.elements.mode.value;
    const maxNew = Number(form.elements.max_new_tokens.value) || 64;
    for (const [side, model] of Object.entries(sides)) {
      // The general compare page (/playground/compare/) lets the learner pick both models.
      const picked = form.elements["model_" + side];
      run(side, picked ? picked.value : model, prompt, mode, maxNew);
    }
  });
})();

// The layer view of both models (playground/lens_views.py), framed under the two outputs.
(() => {
  const box = document.getElementById("compare-lens");
  if (!box) return;
  document.getElementById("compare-lens-go").addEventListener("click", () => {
    const query = new URLSearchParams({ model: document.getElementById("compare-model-base").value,
                                        compare: document.getElementById("compare-model-tuned").value,
                                        text: document.getElementById("compare-prompt").value });
    const frame = document.getElementById("compare-lens-frame");
    frame.hidden = false;
    frame.src = `${box.dataset.embedUrl}?${query}`;
  });
})();
