/* Live delivery progress: poll the broadcast's progress.json and update the bar, counts and chart. */
(function () {
  "use strict";
  function start() {
    var box = document.getElementById("progress");
    if (!box || box.dataset.finished === "true") { return; }
    var bar = box.querySelector("progress");
    var pct = box.querySelector("[data-percent]");
    var timer = null;
    function apply(p) {
      bar.max = Math.max(p.total, 1);
      bar.value = p.done;
      pct.textContent = p.percent + "%";
      var top = 0;
      Object.keys(p.counts).forEach(function (s) { top = Math.max(top, p.counts[s]); });
      Object.keys(p.counts).forEach(function (s) {
        document.querySelectorAll('[data-count="' + s + '"]').forEach(function (el) { el.textContent = p.counts[s]; });
        var chart = document.querySelector("svg.chart");
        var rect = document.querySelector('[data-bar="' + s + '"]');
        var label = document.querySelector('[data-bar-count="' + s + '"]');
        if (chart && rect) {
          var x = parseFloat(chart.dataset.x), span = parseFloat(chart.dataset.span);
          var w = top ? span * p.counts[s] / top : 0;
          rect.setAttribute("width", w.toFixed(1) + "%");
          if (label) { label.setAttribute("x", (x + w + 1).toFixed(1) + "%"); }
        }
      });
      box.dataset.state = p.finished ? "finished" : "running";
      if (p.finished) {
        clearInterval(timer);
        box.dataset.finished = "true";
        var done = document.getElementById("progress-done");
        if (done) { done.hidden = false; }
      }
    }
    function poll() {
      fetch(box.dataset.url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (p) { if (p) { apply(p); } })
        .catch(function () { /* keep polling: the next turn may succeed */ });
    }
    timer = setInterval(poll, 1500);
    poll();
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
