// The fine-tune form: keep the built-in dataset and the method in step with the kind of job.
// The dataset list has one <optgroup> per kind, in the same order as the kind radios.
(function () {
  "use strict";
  const form = document.getElementById("job-form");
  if (!form) return;
  const radios = Array.from(form.querySelectorAll('input[name="kind"]'));
  const dataset = form.querySelector('select[name="builtin_dataset"]');
  const method = form.querySelector('select[name="method"]');
  const groups = dataset ? Array.from(dataset.querySelectorAll("optgroup")) : [];

  function sync() {
    const index = radios.findIndex((r) => r.checked);
    if (index < 0) return;
    const kind = radios[index].value;
    const group = groups[index];
    const chosen = dataset && dataset.selectedOptions[0];
    // A built-in set for the other kind would be refused: switch to this kind's first one.
    if (group && chosen && chosen.value && chosen.parentElement !== group && group.querySelector("option")) {
      dataset.value = group.querySelector("option").value;
    }
    // LoRA or full applies to causal LMs only; a classifier always trains its whole encoder.
    if (method) method.closest(".field").hidden = kind !== "causal_lm";
  }

  radios.forEach((r) => r.addEventListener("change", sync));
  sync();

  // One source of data: picking a file clears the built-in choice, and the other way round.
  const upload = form.querySelector('input[type="file"][name="upload"]');
  if (upload && dataset) {
    upload.addEventListener("change", () => { if (upload.files.length) dataset.value = ""; });
    dataset.addEventListener("change", () => { if (dataset.value) upload.value = ""; });
  }
})();
