// The robots section of a group's settings panel (chat page). The panel is
// a server-rendered fragment that chat.js reloads when the group changes;
// it holds a placeholder [data-robots-src] that this script fills with the
// robots fragment. Forms inside are app.js JSON forms: after one succeeds
// the section alone is reloaded, and a webhook address or secret that the
// answer carries, or an outgoing robot's app secret (each shown once), is
// put in front of the admin to copy.
(function () {
  "use strict";
  function load(holder, issued) {
    holder.setAttribute("data-loaded", "1");
    return fetch(holder.getAttribute("data-robots-src"), { credentials: "same-origin" })
      .then(function (res) { return res.ok ? res.text() : ""; })
      .then(function (html) {
        holder.innerHTML = html;
        if (issued) reveal(holder, issued);
      });
  }
  function show(box, selector, value) {
    var part = box.querySelector(selector);
    if (!part) return;
    part.hidden = !value;
    if (!value) return;
    part.querySelector("code").textContent = value;
    part.querySelector("[data-copy]").setAttribute("data-copy", value);
  }
  function reveal(holder, answer) {
    var box = holder.querySelector("[data-robot-issued]");
    if (!box || !(answer.webhook_url || answer.secret || answer.app_secret)) return;
    show(box, "[data-issued-webhook]", answer.webhook_url);
    show(box, "[data-issued-secret]", answer.secret);
    show(box, "[data-issued-app-secret]", answer.app_secret);
    box.hidden = false;
    box.scrollIntoView({ block: "nearest" });
  }
  function scan() {
    document.querySelectorAll("[data-robots-src]:not([data-loaded])").forEach(function (holder) {
      load(holder);
      holder.addEventListener("tram:api-done", function (e) {
        // Only the robots section changes: the rest of the panel stays.
        e.stopPropagation();
        load(holder, e.detail || null);
      });
    });
  }
  var panel = document.getElementById("panel");
  if (!panel || !window.MutationObserver) return;
  new MutationObserver(scan).observe(panel, { childList: true, subtree: true });
  scan();
})();
