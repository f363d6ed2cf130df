/* Live SMS counter: a port of ropsms.messaging.encoding (GSM 03.38 or UCS-2, parts, units left).
   The GSM character table comes from the server (json_script "gsm-table"), so both sides agree;
   a browser test compares this function with the Python one. */
(function () {
  "use strict";

  function count(text, table) {
    var costs = table.costs, limits = table.limits;
    var chars = Array.from(text);
    var gsm = chars.every(function (ch) { return Object.prototype.hasOwnProperty.call(costs, ch); });
    var enc = gsm ? "gsm" : "ucs2";
    var cost = gsm
      ? function (ch) { return costs[ch]; }
      : function (ch) { return ch.codePointAt(0) > 0xffff ? 2 : 1; };
    var total = 0;
    chars.forEach(function (ch) { total += cost(ch); });
    var single = limits[enc][0], multi = limits[enc][1];
    var parts = 1, used = total;
    if (total > single) {
      parts = 0; used = 0;
      var open = false;
      chars.forEach(function (ch) {
        var c = cost(ch);
        if (!open || used + c > multi) { parts += 1; used = 0; open = true; }
        used += c;
      });
    }
    if (text.length === 0) { parts = 0; }
    var left = parts <= 1 ? single - total : multi - used;
    return { encoding: enc, units: total, chars: chars.length, parts: parts, left: left };
  }
  window.ropsmsCount = count;

  function start() {
    var tableEl = document.getElementById("gsm-table");
    var area = document.getElementById("id_text");
    var out = document.getElementById("counter");
    if (!tableEl || !area || !out) { return; }
    var table = JSON.parse(tableEl.textContent);
    function update() {
      var r = count(area.value, table);
      out.querySelector('[data-c="chars"]').textContent = r.chars;
      out.querySelector('[data-c="encoding"]').textContent = r.encoding === "gsm" ? "GSM 7-bit" : "UCS-2 (Unicode)";
      out.querySelector('[data-c="parts"]').textContent = r.parts;
      out.querySelector('[data-c="left"]').textContent = r.left;
      out.dataset.parts = r.parts;
      out.dataset.encoding = r.encoding;
      out.classList.toggle("long", r.parts > 1);
    }
    area.addEventListener("input", update);
    var textsEl = document.getElementById("template-texts");
    var picker = document.getElementById("id_template");
    if (textsEl && picker) {
      var texts = JSON.parse(textsEl.textContent);
      picker.addEventListener("change", function () {
        if (texts[picker.value] !== undefined) { area.value = texts[picker.value]; update(); area.focus(); }
      });
    }
    update();
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
