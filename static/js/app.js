// Small progressive enhancements shared by every page. No inline scripts: the CSP forbids them.
document.addEventListener("DOMContentLoaded", () => {
  // The language switcher submits on change; a <noscript> button covers no-JS users.
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
});
