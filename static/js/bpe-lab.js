// The tokenizer lab's BPE trainer: a lesson's ```bpe-lab block (a code block holding a
// paragraph) becomes a small widget that learns byte-pair merges from that text one step
// at a time, in the page, with no server. Without JavaScript the paragraph stays a code block.
//
// The rules (tests/courseapp/test_tokenizer_lab.py implements the same ones in Python):
// - the text is split into words (runs of letters and digits) and single punctuation
//   marks; white space is dropped, and no pair crosses a word boundary;
// - every word starts as its characters; the vocabulary starts as the distinct characters;
// - a step counts every adjacent pair of symbols in every word, merges the most frequent
//   pair everywhere (left to right, without overlaps) and adds it to the vocabulary;
//   a tie goes to the pair that occurs first in the text.
window.BPELab = (() => {
  const PIECE = /[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu;

  function words(text) {
    return (text.match(PIECE) || []).map((w) => Array.from(w));
  }

  function pairCounts(ws) {
    const counts = new Map(); // insertion order = first occurrence in the text
    for (const w of ws) {
      for (let i = 0; i + 1 < w.length; i++) {
        const key = JSON.stringify([w[i], w[i + 1]]);
        counts.set(key, (counts.get(key) || 0) + 1);
      }
    }
    return [...counts].map(([key, count], order) => ({ pair: JSON.parse(key), count, order }))
      .sort((a, b) => b.count - a.count || a.order - b.order);
  }

  function merge(ws, [left, right]) {
    return ws.map((w) => {
      const out = [];
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === left && w[i + 1] === right) {
          out.push(left + right);
          i++;
        } else {
          out.push(w[i]);
        }
      }
      return out;
    });
  }

  function start(text) {
    const ws = words(text);
    return { words: ws, vocab: [...new Set(ws.flat())], merges: [] };
  }

  function step(state) {
    const [best] = pairCounts(state.words);
    if (!best) return false;
    state.words = merge(state.words, best.pair);
    state.merges.push({ pair: best.pair, count: best.count });
    state.vocab.push(best.pair.join(""));
    return true;
  }

  const t = (s) => (window.gettext ? window.gettext(s) : s);
  const fmt = (s, values) => (window.interpolate ? window.interpolate(t(s), values, true) : s);
  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const chip = (text) => el("span", "bpe-tok", text);

  function widget(text, n) {
    const root = el("section", "bpe-lab");
    root.setAttribute("aria-label", t("BPE trainer"));
    const label = el("label", "", t("Training text"));
    label.htmlFor = `bpe-text-${n}`;
    const area = el("textarea", "bpe-text");
    area.id = label.htmlFor;
    area.rows = 3;
    area.value = text;
    const controls = el("div", "bpe-controls");
    const buttons = [["step", t("Merge the most frequent pair")], ["ten", t("10 merges")], ["reset", t("Start again")]]
      .map(([act, name]) => {
        const b = el("button", act === "step" ? "button primary" : "button", name);
        b.type = "button";
        b.dataset.act = act;
        controls.append(b);
        return b;
      });
    const status = el("p", "bpe-status");
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    const pairs = el("table", "bpe-pairs");
    const merges = el("ol", "bpe-merges");
    const tokens = el("p", "bpe-tokens");
    const vocab = el("p", "bpe-vocab");
    root.append(label, area, controls, status,
      el("h4", "", t("Most frequent pairs now")), pairs,
      el("h4", "", t("Merges so far")), merges,
      el("h4", "", t("The text as tokens")), tokens,
      el("h4", "", t("Vocabulary")), vocab);

    let state = start(text);
    function render() {
      const count = state.words.reduce((sum, w) => sum + w.length, 0);
      status.textContent = fmt("%(merges)s merges · vocabulary of %(vocab)s symbols · the text is %(tokens)s tokens",
        { merges: state.merges.length, vocab: state.vocab.length, tokens: count });
      const head = el("tr");
      head.append(el("th", "", t("Pair")), el("th", "", t("Count")));
      const body = el("tbody");
      for (const { pair, count: c } of pairCounts(state.words).slice(0, 5)) {
        const row = el("tr");
        const cell = el("td");
        cell.append(chip(pair[0]), " + ", chip(pair[1]));
        row.append(cell, el("td", "", String(c)));
        body.append(row);
      }
      const thead = el("thead");
      thead.append(head);
      pairs.replaceChildren(thead, body);
      merges.replaceChildren(...state.merges.map(({ pair, count: c }) => {
        const li = el("li");
        li.append(chip(pair[0]), " + ", chip(pair[1]), " → ", chip(pair.join("")), ` (${c}×)`);
        return li;
      }));
      tokens.replaceChildren(...state.words.flat().map(chip));
      vocab.replaceChildren(...state.vocab.map(chip));
      buttons[0].disabled = buttons[1].disabled = pairCounts(state.words).length === 0;
    }
    controls.addEventListener("click", (event) => {
      const act = event.target.dataset && event.target.dataset.act;
      if (act === "step") step(state);
      if (act === "ten") for (let i = 0; i < 10 && step(state); i++);
      if (act === "reset") state = start(area.value);
      if (act) render();
    });
    area.addEventListener("input", () => {
      state = start(area.value);
      render();
    });
    render();
    return root;
  }

  // Deferred scripts run once the document is parsed, before DOMContentLoaded, so the
  // block is replaced before course.js would colour it as code.
  document.querySelectorAll("pre > code.language-bpe-lab").forEach((code, n) => {
    code.parentElement.replaceWith(widget(code.textContent.trim(), n));
  });
  return { words, pairCounts, merge, start, step };
})();
