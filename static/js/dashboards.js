// Team dashboard charts, drawn with Chart.js (vendored from npm). The data comes from
// json_script elements: the CSP forbids inline scripts.
document.addEventListener("DOMContentLoaded", () => {
  if (typeof Chart === "undefined") return;
  const data = (id) => {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  };
  const accent = "#3446c8";

  const completion = data("completion-data");
  const completionCanvas = document.getElementById("completion-chart");
  if (completion && completionCanvas) {
    new Chart(completionCanvas, {
      type: "line",
      data: {
        labels: completion.labels,
        datasets: [{ label: completionCanvas.dataset.label, data: completion.values, borderColor: accent,
                     backgroundColor: "rgba(52, 70, 200, 0.12)", fill: true, tension: 0.2,
                     pointRadius: completion.labels.length > 30 ? 0 : 3 }],
      },
      options: { animation: false, scales: { y: { min: 0, max: 100, ticks: { callback: (v) => v + "%" } } } },
    });
  }

  const scores = data("scores-data");
  const scoresCanvas = document.getElementById("scores-chart");
  if (scores && scoresCanvas) {
    new Chart(scoresCanvas, {
      type: "bar",
      data: {
        labels: scores.labels,
        datasets: [{ label: scoresCanvas.dataset.label, data: scores.values, backgroundColor: accent }],
      },
      options: { animation: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
  }
});
