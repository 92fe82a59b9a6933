// Lesson and quiz pages: typeset math with KaTeX and colour code with highlight.js,
// on load and in every fragment HTMX swaps in. katex.render builds DOM nodes and sets
// their styles through the CSSOM, which our CSP (style-src 'self') allows; HTML
// strings with style attributes would be blocked. Screen readers read KaTeX's own
// MathML (its visual HTML is aria-hidden), so the span needs no aria-label of ours,
// which WCAG forbids on a span without a role anyway.
(function () {
  function typeset(root) {
    if (window.katex) {
      root.querySelectorAll(".math:not([data-typeset])").forEach((el) => {
        const tex = el.textContent;
        el.setAttribute("data-typeset", "");
        window.katex.render(tex, el, { displayMode: el.classList.contains("math-display"), throwOnError: false });
      });
    }
    if (window.hljs) {
      root.querySelectorAll("pre:not(.tryit-prompt) code:not([data-highlighted])").forEach((el) => {
        if (!/\blanguage-/.test(el.className)) el.classList.add("language-plaintext");
        window.hljs.highlightElement(el);
        // A long line scrolls sideways: keyboard users must be able to reach it (WCAG 2.1.1).
        el.setAttribute("tabindex", "0");
      });
    }
  }

  // A try-it's embedded heatmap (our own origin) grows to its content, so a longer
  // prompt's matrix is not clipped; the CSS height is what it has before (or without) this.
  function fitEmbeds(root) {
    root.querySelectorAll("iframe.tryit-embed").forEach((frame) => {
      const fit = () => {
        const body = frame.contentDocument && frame.contentDocument.body;
        if (body && body.scrollHeight) frame.style.height = `${body.scrollHeight + 2}px`;
      };
      const watch = () => {
        fit();
        if (frame.contentDocument && frame.contentDocument.body) new ResizeObserver(fit).observe(frame.contentDocument.body);
      };
      frame.addEventListener("load", watch);
      const doc = frame.contentDocument;
      if (doc && doc.readyState === "complete" && doc.URL !== "about:blank") watch();
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    // HTMX "settles" style attributes from old to new elements with setAttribute,
    // which our CSP blocks (and reports) whenever something left a style="" behind.
    if (window.htmx) window.htmx.config.attributesToSettle = ["class", "width", "height"];
    typeset(document);
    fitEmbeds(document);
  });
  document.addEventListener("htmx:load", (event) => typeset(event.detail.elt));

  // Quiz errors (a resubmitted attempt, a bad answer) come back as 409/422 with a
  // message fragment; swap it in instead of ignoring it, as HTMX does by default.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const status = event.detail.xhr.status;
    if (status === 409 || status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // After a swap, move keyboard focus to the new content (checked question or result).
  document.addEventListener("htmx:afterSettle", (event) => {
    const target = event.detail.elt;
    const focusable = target.matches("fieldset.question, #attempt-area") ? target : null;
    if (focusable) {
      const heading = focusable.querySelector("#attempt-result, .question-feedback");
      const el = heading || focusable;
      if (!el.hasAttribute("tabindex")) el.setAttribute("tabindex", "-1");
      el.focus({ preventScroll: false });
    }
  });
})();
