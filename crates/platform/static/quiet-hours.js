// Settings > Notifications: quiet periods (rows cloned from a <template>),
// time zone and who gets through, saved as JSON to /api/v1/me/notifications;
// the API's field messages are shown beside the fields.
(function () {
  "use strict";
  var form = document.getElementById("quiet-form");
  if (!form) return;
  var rows = document.getElementById("periods");
  var template = document.getElementById("period-template");
  var saved = document.getElementById("quiet-saved");

  function addPeriod(days, start, end) {
    var row = template.content.firstElementChild.cloneNode(true);
    row.querySelectorAll("[data-day]").forEach(function (box) { box.checked = days.indexOf(+box.value) >= 0; });
    row.querySelector("[data-start]").value = start;
    row.querySelector("[data-end]").value = end;
    rows.appendChild(row);
    return row;
  }
  document.getElementById("period-add").addEventListener("click", function () {
    addPeriod([1, 2, 3, 4, 5], "19:00", "09:00").querySelector("[data-start]").focus();
  });
  form.addEventListener("click", function (e) {
    var preset = e.target.closest("[data-preset]");
    if (preset) {
      if (preset.getAttribute("data-preset") === "weekends") addPeriod([6, 7], "00:00", "00:00");
      else addPeriod([1, 2, 3, 4, 5], "19:00", "09:00");
      form.querySelector("[name=enabled]").checked = true;
    }
    var remove = e.target.closest("[data-remove-period]");
    if (remove) remove.closest(".period").remove();
  });

  function body() {
    var periods = Array.prototype.map.call(rows.querySelectorAll(".period"), function (row) {
      return {
        days: Array.prototype.filter.call(row.querySelectorAll("[data-day]"), function (b) { return b.checked; })
          .map(function (b) { return +b.value; }),
        start: row.querySelector("[data-start]").value,
        end: row.querySelector("[data-end]").value,
      };
    });
    return {
      enabled: form.elements.enabled.checked,
      time_zone: form.elements.time_zone.value.trim(),
      periods: periods,
      allow_mentions: form.elements.allow_mentions.checked,
      allow_from: Array.prototype.filter.call(form.querySelectorAll("[name=allow_from]"), function (b) { return b.checked; })
        .map(function (b) { return b.value; }),
    };
  }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    saved.hidden = true;
    var button = form.querySelector("[type=submit]");
    button.disabled = true;
    window.tram.api("PUT", "/api/v1/me/notifications", body()).then(function (r) {
      button.disabled = false;
      window.tram.showErrors(form, r.ok ? undefined : r.body);
      saved.hidden = !r.ok;
    });
  });
})();
