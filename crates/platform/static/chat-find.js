// The chat page's ways to a message elsewhere: the search box
// (/api/v1/chat/search) and the notification centre (what arrived during
// quiet hours and is unread, /api/v1/me/notification-centre). Each entry
// links to the message in context (/chat/{id}?at={seq}); one of the open
// conversation asks chat.js to jump there in place ("tram:open-message"
// on #chat) instead of reloading. Snippets are the server's escaped
// `snippet_html`, centre entries the message's sanitised `html`; names are
// set as text.
(function () {
  "use strict";
  var root = document.getElementById("chat");
  if (!root || !window.tram || !window.tram.live) return;
  var tram = window.tram, el = tram.el;
  function $(id) { return document.getElementById(id); }
  function msg(key) { return root.getAttribute("data-msg-" + key) || ""; }
  function failed(box, r) { box.appendChild(el("p", "muted", tram.errorMessage(r) || msg("load-failed"))); }

  function entry(conversationId, seq, title, sender, at, testid) {
    var link = el("a", "result");
    link.href = "/chat/" + encodeURIComponent(conversationId) + "?at=" + encodeURIComponent(seq);
    link.setAttribute("data-testid", testid);
    link.setAttribute("data-conversation", conversationId);
    link.setAttribute("data-seq", seq);
    var head = el("div", "result-head");
    head.appendChild(el("strong", "result-title", title));
    head.appendChild(el("span", "muted result-line", (sender || "") + " · " + tram.when(at)));
    link.appendChild(head);
    return link;
  }
  function open(e) {
    var link = e.target.closest("a.result");
    if (!link || link.getAttribute("data-conversation") !== root.getAttribute("data-open")) return;
    if (e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
    var jump = new CustomEvent("tram:open-message", { detail: { seq: +link.getAttribute("data-seq") }, cancelable: true });
    if (!root.dispatchEvent(jump)) e.preventDefault(); // the pane took it
  }

  // ---- search
  var form = $("chat-search"), input = $("chat-search-q"), results = $("search-results");
  results.addEventListener("click", open);
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var q = input.value.trim();
    results.textContent = "";
    results.hidden = !q;
    if (!q) return;
    results.setAttribute("aria-busy", "true");
    tram.api("GET", "/api/v1/chat/search?q=" + encodeURIComponent(q)).then(function (r) {
      if (input.value.trim() !== q) return; // a newer search is on its way
      results.removeAttribute("aria-busy");
      if (!r.ok || !Array.isArray(r.body)) { failed(results, r); return; }
      if (!r.body.length) results.appendChild(el("p", "muted", msg("no-results"))).setAttribute("data-testid", "search-none");
      r.body.forEach(function (hit) {
        var link = entry(hit.conversation_id, hit.seq, hit.conversation_name, hit.sender_name, hit.created_at, "search-result");
        var snippet = el("div", "result-snippet");
        snippet.setAttribute("data-testid", "search-snippet");
        snippet.innerHTML = hit.snippet_html; // escaped by the server, the words in <mark>
        link.appendChild(snippet);
        results.appendChild(link);
      });
    });
  });
  input.addEventListener("search", function () { if (!input.value) { results.hidden = true; results.textContent = ""; } });

  // ---- the notification centre; while open it follows what arrives and what I read
  var centre = $("centre"), items = $("centre-items"), toggle = $("centre-open");
  function loadCentre() {
    tram.api("GET", "/api/v1/me/notification-centre").then(function (r) {
      items.textContent = "";
      if (!r.ok || !Array.isArray(r.body)) { failed(items, r); return; }
      if (!r.body.length) items.appendChild(el("p", "muted", msg("centre-empty"))).setAttribute("data-testid", "centre-empty");
      r.body.forEach(function (arrival) {
        var m = arrival.message;
        var link = entry(arrival.conversation_id, m.seq, arrival.conversation_name, m.sender_name, m.created_at, "centre-item");
        var body = el("div", "result-snippet");
        if (m.recalled) body.textContent = msg("recalled");
        else body.innerHTML = m.html; // the server's sanitised HTML
        if (!m.recalled && m.attachment) body.appendChild(el("span", "file-name", m.attachment.file_name));
        link.appendChild(body);
        items.appendChild(link);
      });
    });
  }
  var refreshCentre = tram.later(function () { if (!centre.hidden) loadCentre(); }, 500);
  centre.addEventListener("click", open);
  toggle.addEventListener("click", function () {
    centre.hidden = !centre.hidden;
    toggle.setAttribute("aria-expanded", centre.hidden ? "false" : "true");
    if (!centre.hidden) loadCentre();
  });
  tram.live.on("message", refreshCentre);
  tram.live.on("read", function (e) { if (e.user_id === root.getAttribute("data-me")) refreshCentre(); });
})();
