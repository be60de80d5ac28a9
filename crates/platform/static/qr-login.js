// QR login, the waiting browser's side: listens on the ticket's event
// stream and, once the phone confirms, exchanges the ticket for a session.
(function () {
  "use strict";
  var box = document.getElementById("qr-login");
  if (!box) return;
  var ticket = box.getAttribute("data-ticket");
  var next = box.getAttribute("data-next") || "/";
  var status = document.getElementById("qr-status");
  var refresh = document.getElementById("qr-refresh");
  var finished = false;
  function say(key, offerRefresh) {
    status.textContent = box.getAttribute("data-msg-" + key);
    if (offerRefresh) refresh.hidden = false;
  }
  function login() {
    fetch("/api/v1/qr/tickets/" + encodeURIComponent(ticket) + "/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": window.tram.csrf(), "Accept": "application/json" },
    })
      .then(function (res) { return res.json().then(function (body) { return { ok: res.ok, body: body }; }); })
      .then(function (r) {
        if (r.ok && r.body.status === "logged_in") {
          location.href = next;
        } else if (r.ok && r.body.status === "second_factor_required") {
          location.href = "/login/2fa?next=" + encodeURIComponent(next);
        } else {
          say("failed", true);
        }
      })
      .catch(function () { say("failed", true); });
  }
  var events = new EventSource("/api/v1/qr/tickets/" + encodeURIComponent(ticket) + "/events");
  events.addEventListener("status", function (e) {
    if (finished) return;
    switch (e.data) {
      case "scanned": say("scanned", false); break;
      case "confirmed": finished = true; events.close(); say("confirmed", false); login(); break;
      case "rejected": finished = true; events.close(); say("rejected", true); break;
      case "expired":
      case "used": finished = true; events.close(); say("expired", true); break;
    }
  });
})();
