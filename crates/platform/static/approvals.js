// Approval pages: detail-table rows added and removed, the running money
// total of a table, the days of a date range, and the print button. The
// server checks everything again; this only helps while typing.
(function () {
  "use strict";

  function cents(text) {
    var clean = String(text || "").replace(/,/g, "").trim();
    if (!/^-?\d+(\.\d{1,2})?$/.test(clean)) return null;
    var parts = clean.replace("-", "").split(".");
    var value = parseInt(parts[0], 10) * 100 + parseInt(((parts[1] || "") + "00").slice(0, 2), 10);
    return clean.charAt(0) === "-" ? -value : value;
  }

  function money(value) {
    var whole = Math.floor(Math.abs(value) / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var frac = ("0" + (Math.abs(value) % 100)).slice(-2);
    return (value < 0 ? "-" : "") + "HK$" + whole + "." + frac;
  }

  function renumber(table) {
    var name = table.getAttribute("data-table");
    table.querySelectorAll("tbody tr[data-row]").forEach(function (row, i) {
      row.querySelectorAll("[name]").forEach(function (input) {
        input.name = input.name.replace(/\[(\d+|__ROW__)\]/, "[" + (i + 1) + "]");
        if (input.id) input.id = input.name;
      });
    });
    table.setAttribute("data-rows", table.querySelectorAll("tbody tr[data-row]").length);
    total(table);
    return name;
  }

  function total(table) {
    var out = table.querySelector("[data-total]");
    if (!out) return;
    var sum = 0;
    table.querySelectorAll("tbody input[data-money]").forEach(function (input) {
      var c = cents(input.value);
      if (c !== null) sum += c;
    });
    out.textContent = money(sum);
  }

  function days(range) {
    var inputs = range.querySelectorAll("input[type=date]");
    var out = range.querySelector("[data-days]");
    var a = Date.parse(inputs[0].value), b = Date.parse(inputs[1].value);
    if (isNaN(a) || isNaN(b) || b < a) { out.textContent = ""; return; }
    var n = Math.round((b - a) / 86400000) + 1;
    out.textContent = (out.getAttribute("data-template") || "{days}").replace("{days}", n);
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) {
      var key = add.getAttribute("data-add-row");
      var table = document.querySelector('table[data-table="' + key + '"]');
      var blank = document.querySelector('template[data-blank-row="' + key + '"]');
      table.querySelector("tbody").appendChild(blank.content.cloneNode(true));
      renumber(table);
      return;
    }
    var remove = event.target.closest("[data-remove-row]");
    if (remove) {
      var t = remove.closest("table");
      remove.closest("tr").remove();
      renumber(t);
      return;
    }
    if (event.target.closest("[data-print]")) window.print();
  });

  document.addEventListener("input", function (event) {
    var table = event.target.closest("table[data-table]");
    if (table) total(table);
    var range = event.target.closest("[data-range]");
    if (range) days(range);
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table[data-table]").forEach(total);
    document.querySelectorAll("[data-range]").forEach(days);
  });
})();
