// The three-step wizard of the schedules section (group panel): step 1
// name, step 2 when (with a preview of the next 3 runs from the server, in
// the org's time zone), step 3 the message. The form is one app.js JSON
// form; the steps only show one part at a time. robots.js loads and
// reloads the section.
(function () {
  "use strict";
  function show(form, step) {
    form.querySelectorAll("[data-step]").forEach(function (part) {
      part.hidden = part.getAttribute("data-step") !== String(step);
    });
    form.setAttribute("data-at", String(step));
    fit(form);
    if (step === 2) preview(form);
  }
  // Only the fields of the chosen rule (and kind) show.
  function fit(form) {
    var rule = form.querySelector("[name=rule]"), kind = form.querySelector("[name=kind]");
    form.querySelectorAll("[data-for-rule]").forEach(function (part) {
      part.hidden = rule && part.getAttribute("data-for-rule").split(" ").indexOf(rule.value) < 0;
    });
    form.querySelectorAll("[data-for-kind]").forEach(function (part) {
      part.hidden = !kind || part.getAttribute("data-for-kind") !== kind.value;
    });
  }
  function body(form) {
    var out = { days: [] };
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name === "days") { if (el.checked) out.days.push(el.value); return; }
      if (el.name === "rule" || el.name === "time" || el.name === "cron") out[el.name] = el.value;
    });
    return out;
  }
  function preview(form) {
    var holder = form.closest("[data-schedules]");
    var list = form.querySelector("[data-preview-list]");
    if (!holder || !list) return;
    window.tram.api("POST", holder.getAttribute("data-preview-api"), body(form)).then(function (r) {
      list.textContent = "";
      if (!r.ok) { window.tram.showErrors(form, r.body); return; }
      window.tram.showErrors(form);
      (r.body.labels || []).forEach(function (label) {
        list.appendChild(window.tram.el("li", "mono", label));
      });
    });
  }
  document.addEventListener("click", function (event) {
    var next = event.target.closest("[data-step-next]");
    var back = event.target.closest("[data-step-back]");
    var button = next || back;
    if (!button) return;
    var form = button.closest("form[data-wizard]");
    if (!form) return;
    var at = Number(form.getAttribute("data-at") || "1");
    show(form, next ? at + 1 : at - 1);
  });
  var timers = new WeakMap();
  function changed(event) {
    var wizard = event.target.closest && event.target.closest("form[data-wizard]");
    if (wizard && (event.target.name === "rule" || event.target.name === "kind")) fit(wizard);
    if (!event.target.hasAttribute || !event.target.hasAttribute("data-preview-input")) return;
    var form = event.target.closest("form[data-wizard]");
    if (!form) return;
    clearTimeout(timers.get(form));
    timers.set(form, setTimeout(function () { preview(form); }, 250));
  }
  document.addEventListener("input", changed);
  document.addEventListener("change", changed);
})();
