/* Small progressive enhancements for every page (no inline scripts: the CSP forbids them). */
(function () {
  "use strict";
  function start() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (sel) {
      sel.addEventListener("change", function () { sel.form.submit(); });
    });
    // A search box that narrows a long <select multiple> (e.g. hundreds of staff) as you type.
    document.querySelectorAll("input[data-filter-for]").forEach(function (box) {
      var select = document.getElementById(box.dataset.filterFor);
      if (!select) { return; }
      box.hidden = false;
      box.addEventListener("input", function () {
        var q = box.value.trim().toLowerCase();
        Array.prototype.forEach.call(select.options, function (opt) {
          opt.hidden = q !== "" && opt.text.toLowerCase().indexOf(q) === -1 && !opt.selected;
        });
      });
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (e) {
        if (!window.confirm(form.dataset.confirm)) { e.preventDefault(); }
      });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
