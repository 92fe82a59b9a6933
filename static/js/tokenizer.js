// Tokenizer view: asks the model worker over the playground WebSocket.
(() => {
  const root = document.getElementById("tokenizer");
  if (!root) return;
  const form = document.getElementById("tokenize-form");
  const status = document.getElementById("tok-status");
  const output = document.getElementById("tok-output");
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  let socket = null;

  function connect() {
    return new Promise((resolve, reject) => {
      if (socket && socket.readyState === WebSocket.OPEN) return resolve(socket);
      socket = new WebSocket(scheme + location.host + root.dataset.wsPath);
      socket.addEventListener("open", () => resolve(socket), { once: true });
      socket.addEventListener("error", () => reject(new Error("connection failed")), { once: true });
      socket.addEventListener("message", (event) => render(JSON.parse(event.data)));
    });
  }

  function render(msg) {
    if (msg.type === "error") {
      status.textContent = msg.message;
      status.classList.add("error");
      return;
    }
    if (msg.type !== "tokens") return;
    status.classList.remove("error");
    status.textContent = interpolate(ngettext("%(count)s token", "%(count)s tokens", msg.tokens.length), { count: msg.tokens.length }, true);
    output.replaceChildren(...LLMTokens.pieceItems(msg.tokens));
  }

  async function tokenize() {
    status.textContent = "…";
    try {
      const ws = await connect();
      ws.send(JSON.stringify({ type: "tokenize", model: form.model.value, text: form.text.value }));
    } catch (err) {
      status.textContent = interpolate(gettext("Could not reach the server: %(message)s"), { message: err.message }, true);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    tokenize();
  });
  // A lesson's Try-it link (?tok_model=&tok_text=) shows its split at once.
  if (root.dataset.autorun) tokenize();
})();

