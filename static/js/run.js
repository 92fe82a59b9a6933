// A saved run: draw its tokens from the JSON the page carries.
document.addEventListener("DOMContentLoaded", () => {
  const data = document.getElementById("run-tokens");
  const output = document.getElementById("gen-output");
  const inspector = document.getElementById("token-inspector");
  if (!data || !output) return;
  for (const tok of JSON.parse(data.textContent)) output.append(LLMTokens.makeToken(tok, inspector));
  LLMTokens.bindBoundaryToggle(document.getElementById("show-boundaries"), output);
});
