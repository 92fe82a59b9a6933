// Active reading time on a lesson page. Time counts while the page is visible and the
// reader scrolled, typed or used the pointer within the last LESSON_IDLE_SECONDS; it is
// reported to the server every LESSON_TIME_REPORT_SECONDS and when the page is left, as
// whole seconds (the server adds them to the learner's own progress, at most
// MAX_TIME_REPORT_SECONDS a report).
(() => {
  const source = document.querySelector("[data-reading-url]");
  if (!source) return;
  const url = source.dataset.readingUrl;
  const reportMs = Number(source.dataset.reportSeconds || 30) * 1000;
  const idleMs = Number(source.dataset.idleSeconds || 60) * 1000;
  const maxSeconds = Number(source.dataset.maxSeconds || 120);
  let lastActive = performance.now(); // opening the page counts as doing something
  let counted = performance.now(); // time up to here is already accounted for
  let pendingMs = 0; // active time not yet reported

  const active = () => { lastActive = performance.now(); };
  for (const type of ["scroll", "wheel", "keydown", "pointerdown", "pointermove", "touchstart"]) {
    window.addEventListener(type, active, { passive: true, capture: true });
  }

  // Add the time since the last account, if the reader was there for it. Called every
  // second, so a reader who goes idle stops counting within a second of the idle limit.
  function account() {
    const now = performance.now();
    if (document.visibilityState === "visible" && now - lastActive <= idleMs) pendingMs += Math.min(now - counted, 2000);
    counted = now;
  }

  function report(leaving) {
    account();
    const seconds = Math.min(Math.floor(pendingMs / 1000), maxSeconds);
    if (seconds < 1) return;
    pendingMs -= seconds * 1000;
    const form = new FormData();
    form.append("seconds", String(seconds));
    form.append("csrfmiddlewaretoken", source.dataset.csrf);
    // A page being left may not finish a fetch; a beacon is delivered anyway.
    if (leaving && navigator.sendBeacon && navigator.sendBeacon(url, form)) return;
    fetch(url, { method: "POST", body: form, credentials: "same-origin", keepalive: true })
      .catch(() => { pendingMs += seconds * 1000; }); // offline: try again with the next report
  }

  setInterval(account, 1000);
  setInterval(() => report(false), reportMs);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") report(true);
    else { counted = performance.now(); active(); }
  });
  window.addEventListener("pagehide", () => report(true));
})();
