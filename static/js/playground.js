// Playground: streamed generation over the WebSocket protocol in docs/PROTOCOL.md.
(() => {
  const root = document.getElementById("playground");
  if (!root) return;
  const form = document.getElementById("gen-form");
  const button = document.getElementById("gen-button");
  const status = document.getElementById("gen-status");
  const output = document.getElementById("gen-output");
  const inspector = document.getElementById("token-inspector");
  const promptTokens = document.getElementById("prompt-tokens");
  const runLink = document.getElementById("run-link");
  const notice = document.getElementById("gen-notice");
  const timing = { ttft: document.getElementById("t-ttft"), rate: document.getElementById("t-rate"),
                   count: document.getElementById("t-count") };
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  let socket = null;
  let current = null; // {id, sentAt, firstAt, count}

  LLMTokens.bindBoundaryToggle(document.getElementById("show-boundaries"), output);

  function setRunning(running) {
    button.textContent = running ? button.dataset.labelStop : button.dataset.labelStart;
    button.classList.toggle("danger", running);
    root.classList.toggle("running", running);
  }

  function connect() {
    return new Promise((resolve, reject) => {
      if (socket && socket.readyState === WebSocket.OPEN) return resolve(socket);
      socket = new WebSocket(scheme + location.host + root.dataset.wsPath);
      socket.addEventListener("open", () => resolve(socket), { once: true });
      socket.addEventListener("error", () => reject(new Error("could not connect")), { once: true });
      socket.addEventListener("message", (event) => onMessage(JSON.parse(event.data)));
      socket.addEventListener("close", () => {
        if (current) { status.textContent = gettext("Connection lost; the run was saved up to this point."); current = null; setRunning(false); }
      });
    });
  }

  function params() {
    const out = {};
    for (const name of ["temperature", "top_k", "top_p", "max_new_tokens", "repetition_penalty", "seed"]) {
      const raw = form.elements[name].value.trim();
      if (raw === "") { if (name === "seed") out[name] = null; continue; }
      out[name] = Number(raw);
    }
    return out;
  }

  function onMessage(msg) {
    if (msg.type === "tokens") return; // answers to the tokenizer box, handled in tokenizer.js
    if (!current || (msg.request_id && msg.request_id !== current.id)) return;
    if (msg.type === "started") {
      status.textContent = gettext("Generating…");
      promptTokens.replaceChildren(...LLMTokens.pieceItems(msg.prompt_tokens));
      current.run = msg.run;
      // A model on an inference endpoint: say what it cannot show, and why.
      notice.hidden = !msg.notice;
      notice.textContent = msg.notice || "";
      current.endpoint = Boolean(msg.notice);
      if (msg.notice && !msg.prompt_tokens.length) {
        const li = document.createElement("li");
        li.className = "muted";
        li.textContent = gettext("This endpoint does not show how its tokenizer splits the prompt.");
        promptTokens.replaceChildren(li);
      }
    } else if (msg.type === "token") {
      const now = performance.now();
      if (current.firstAt === null) {
        current.firstAt = now;
        timing.ttft.textContent = Math.round(now - current.sentAt) + " ms";
      }
      current.count += 1;
      timing.count.textContent = current.count;
      if (current.count > 1) timing.rate.textContent = ((current.count - 1) / ((now - current.firstAt) / 1000)).toFixed(1);
      output.append(LLMTokens.makeToken(msg, inspector));
    } else if (msg.type === "done") {
      status.textContent = interpolate(
        ngettext("Done: %(reason)s. %(count)s token.", "Done: %(reason)s. %(count)s tokens.", msg.completion_tokens),
        { reason: msg.finish_label, count: msg.completion_tokens }, true);
      if (msg.tokens_per_second) timing.rate.textContent = msg.tokens_per_second.toFixed(1);
      showRunLink(msg.run, current.endpoint);
      current = null;
      setRunning(false);
    } else if (msg.type === "error") {
      status.textContent = interpolate(gettext("Error: %(message)s"), { message: msg.message }, true);
      status.classList.add("error");
      current = null;
      setRunning(false);
    }
  }

  function showRunLink(run, endpoint) {
    if (!run) return;
    const a = document.createElement("a");
    a.href = root.dataset.runUrl + run + "/";
    a.textContent = gettext("Permalink to this run");
    if (endpoint) return runLink.replaceChildren(a);
    const att = document.createElement("a");
    att.href = `${root.dataset.attentionUrl}?view=heatmap&run=${run}`;
    att.textContent = gettext("Attention for this run");
    runLink.replaceChildren(a, " · ", att);
  }

  async function start() {
    status.classList.remove("error");
    notice.hidden = true;
    output.replaceChildren();
    runLink.replaceChildren();
    for (const el of Object.values(timing)) el.textContent = "–";
    const id = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now() + Math.random())).replace(/-/g, "");
    current = { id, sentAt: performance.now(), firstAt: null, count: 0 };
    setRunning(true);
    status.textContent = gettext("Waiting for the model…");
    try {
      const ws = await connect();
      ws.send(JSON.stringify({ type: "start", request_id: id, model: form.elements.model.value,
        mode: form.elements.mode.value, prompt: form.elements.prompt.value, params: params() }));
    } catch (err) {
      status.textContent = interpolate(gettext("Could not reach the server: %(message)s"), { message: err.message }, true);
      current = null;
      setRunning(false);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (current) {
      socket.send(JSON.stringify({ type: "stop", request_id: current.id }));
      status.textContent = gettext("Stopping…");
    } else {
      start();
    }
  });
  form.elements.prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); form.requestSubmit(); }
  });
})();
