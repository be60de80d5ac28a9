// The AI assistant's page scripts. On the admin page: a Markdown or text
// file chosen for a document is read into its text box (the form then
// sends it like pasted text). On the chat page: rating buttons under the
// assistant's answers. An answer is a robot's message that cites knowledge
// base entries (links to /assistant/entries/…); a member rates it helpful
// or not (PUT /api/v1/assistant/answers/{id}/rating), and may change their
// mind. The buttons show the totals; the member's own choice is pressed.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var input = event.target.closest("input[type=file][data-fill]");
    if (!input || !input.files || !input.files[0]) return;
    var file = input.files[0], form = input.form;
    file.text().then(function (text) {
      document.getElementById(input.getAttribute("data-fill")).value = text;
      var title = form && form.querySelector("input[name=title]");
      if (title && !title.value) title.value = file.name.replace(/\.[^.]*$/, "");
      var kind = form && form.querySelector("select[name=kind]");
      if (kind) kind.value = "doc";
    });
  });
  var root = document.getElementById("chat"), pane = document.getElementById("messages");
  if (!root || !pane || !window.tram) return;
  var tram = window.tram;
  function label(key) { return root.getAttribute("data-msg-" + key) || ""; }
  function show(box, totals) {
    var buttons = box.querySelectorAll("button");
    buttons[0].textContent = label("helpful") + " " + totals.helpful;
    buttons[1].textContent = label("not-helpful") + " " + totals.not_helpful;
    buttons[0].setAttribute("aria-pressed", totals.mine === true ? "true" : "false");
    buttons[1].setAttribute("aria-pressed", totals.mine === false ? "true" : "false");
  }
  function button(helpful) {
    var b = tram.el("button", "link rating", "");
    b.type = "button";
    b.setAttribute("data-helpful", helpful ? "true" : "false");
    b.setAttribute("data-testid", helpful ? "rate-helpful" : "rate-not-helpful");
    return b;
  }
  function decorate(node) {
    var m = node.message;
    if (!m || !m.robot_id || m.recalled || node.querySelector(".ratings")) return;
    if (!node.querySelector('.msg-body a[href*="/assistant/entries/"]')) return;
    var box = tram.el("div", "ratings");
    box.setAttribute("data-testid", "ratings");
    box.appendChild(button(true));
    box.appendChild(button(false));
    node.appendChild(box);
    show(box, { helpful: 0, not_helpful: 0, mine: null });
    var url = "/api/v1/assistant/answers/" + encodeURIComponent(m.id) + "/rating";
    tram.api("GET", url).then(function (r) { if (r.ok) show(box, r.body); });
    box.addEventListener("click", function (event) {
      var b = event.target.closest("button[data-helpful]");
      if (!b) return;
      tram.api("PUT", url, { helpful: b.getAttribute("data-helpful") === "true" }).then(function (r) {
        if (r.ok) show(box, r.body);
      });
    });
  }
  function scan() {
    Array.prototype.forEach.call(pane.querySelectorAll("article.from-robot"), decorate);
  }
  new MutationObserver(scan).observe(pane, { childList: true });
  scan();
})();
