// Shared token rendering for the playground and saved runs.
// A token is a focusable span; hovering or focusing it fills the inspector panel.
window.LLMTokens = (() => {
  const pct = (p) => (p >= 0.995 ? "100" : (p * 100).toFixed(p < 0.01 ? 2 : 1)) + "%";
  const visible = (text) => text.replace(/ /g, "·").replace(/\n/g, "↵").replace(/\t/g, "→") || "∅";

  // Probability bands, each with a colour class and a text label (never colour alone).
  function band(p) {
    if (p >= 0.5) return "p-high";
    if (p >= 0.15) return "p-mid";
    return "p-low";
  }

  function makeToken(tok, inspector) {
    const span = document.createElement("span");
    span.className = "tok " + band(tok.p);
    span.tabIndex = 0;
    if (tok.text.includes("\n")) {
      // A line break is a token too: with boundaries shown, a ↵ mark makes it visible
      // and gives the pointer something to hover.
      const mark = document.createElement("span");
      mark.className = "nl-mark";
      mark.setAttribute("aria-hidden", "true");
      mark.textContent = "↵";
      span.append(mark, tok.text);
    } else if (tok.text === "") {
      // A token with no text of its own (an end-of-turn token such as <|im_end|>):
      // an ∅ mark, as in the inspector, gives the pointer something to hover.
      const mark = document.createElement("span");
      mark.className = "nl-mark";
      mark.setAttribute("aria-hidden", "true");
      mark.textContent = "∅";
      span.append(mark);
    } else {
      span.textContent = tok.text;
    }
    span.dataset.p = tok.p;
    span.setAttribute("aria-label", `${JSON.stringify(tok.text)}: ${pct(tok.p)}`);
    const show = () => inspect(inspector, tok);
    span.addEventListener("mouseenter", show);
    span.addEventListener("focus", show);
    return span;
  }

  function inspect(panel, tok) {
    if (!panel) return;
    const title = document.createElement("p");
    title.className = "inspector-title";
    const code = document.createElement("code");
    code.textContent = visible(tok.text);
    // The token's text goes where "%(token)s" is, as a <code> element.
    const [before, after] = gettext("Token %(token)s (id %(id)s): model probability %(p)s").split("%(token)s");
    // An endpoint's token has no id of ours (null) and may come without logprobs (p null).
    const given = tok.p !== null && tok.p !== undefined;
    title.append(before, code, interpolate(after, { id: tok.id ?? "–", p: given ? pct(tok.p) : gettext("not given") }, true));
    if (tok.p_sample === null) {
      title.append(" ", gettext("(An inference endpoint samples on its own server, so the probability after temperature/top-k/top-p is not known here.)"));
    } else if (tok.p_sample !== undefined && Math.abs(tok.p_sample - tok.p) > 0.0005) {
      title.append(interpolate(gettext(", %(p)s after temperature/top-k/top-p"), { p: pct(tok.p_sample) }, true));
    }
    const list = document.createElement("ol");
    list.className = "alternatives";
    // Runs saved before the sampled probability was recorded have no `q`: one bar then.
    const sampled = (tok.top || []).some((alt) => alt.q !== undefined);
    const makeBar = (p, cls) => {
      const bar = document.createElement("span");
      bar.className = "bar " + cls;
      const fill = document.createElement("span");
      fill.className = "bar-fill";
      fill.style.width = (p > 0 ? Math.max(1, Math.round(p * 100)) : 0) + "%"; // CSSOM, allowed by our CSP
      bar.append(fill);
      return bar;
    };
    for (const alt of tok.top || []) {
      const li = document.createElement("li");
      const filtered = sampled && alt.q === 0;
      // An endpoint's token has no id of ours: its chosen alternative is the one with its text.
      const chosen = tok.id === null || tok.id === undefined ? alt.text === tok.text : alt.id === tok.id;
      li.className = (chosen ? "chosen" : "") + (filtered ? " filtered" : "");
      const label = document.createElement("code");
      label.textContent = visible(alt.text);
      const bars = document.createElement("span");
      bars.className = "bars";
      bars.append(makeBar(alt.p, "bar-model"));
      if (sampled) bars.append(makeBar(alt.q, "bar-sampled"));
      const value = document.createElement("span");
      value.className = "bar-value";
      value.textContent = (sampled ? "p " : "") + pct(alt.p);
      if (sampled) {
        const q = document.createElement("span");
        q.className = "bar-value-sampled";
        q.textContent = "q " + (filtered ? "0 · " + gettext("filtered out") : pct(alt.q));
        value.append(document.createElement("br"), q);
      }
      if (chosen) value.append(" ✓ " + gettext("chosen"));
      li.append(label, bars, value);
      list.append(li);
    }
    const heading = document.createElement("p");
    heading.className = "muted";
    heading.textContent = (tok.top || []).length ? gettext("Top alternatives:")
      : gettext("No alternatives: this endpoint does not give logprobs.");
    const parts = [title, heading];
    if (sampled) {
      const legend = document.createElement("p");
      legend.className = "legend inspector-legend";
      const key = (cls, text) => {
        const item = document.createElement("span");
        const swatch = document.createElement("span");
        swatch.className = "swatch " + cls;
        swatch.setAttribute("aria-hidden", "true");
        item.append(swatch, text);
        return item;
      };
      legend.append(
        key("bar-model", gettext("p: the model's probability")),
        key("bar-sampled", gettext("q: probability when sampling, after repetition penalty, temperature, top-k and top-p (0 = filtered out)")),
      );
      parts.push(legend);
    }
    panel.replaceChildren(...parts, list);
  }

  // A prompt or text shown as pieces: each token's readable text above its id.
  function pieceItems(tokens) {
    return tokens.map((t) => {
      const li = document.createElement("li");
      li.className = "token";
      const text = document.createElement("span");
      text.className = "token-text";
      text.textContent = visible(t.text);
      const id = document.createElement("span");
      id.className = "token-id";
      id.textContent = t.id;
      li.append(text, id);
      return li;
    });
  }

  function bindBoundaryToggle(checkbox, output) {
    if (!checkbox) return;
    const apply = () => output.classList.toggle("boundaries", checkbox.checked);
    checkbox.addEventListener("change", apply);
    apply();
  }

  return { makeToken, inspect, bindBoundaryToggle, visible, pieceItems };
})();
