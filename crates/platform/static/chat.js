// The chat page (/chat, /chat/{id}): the message pane (the newest page
// first, older pages on scrolling up, newer ones when opened at a search
// hit), the composer (Markdown, @mentions, replies, edits, recall,
// attachments), "read by" receipts, the settings panel, search and the
// notification centre. Live events come from tram.live (live.js). Message
// HTML is the server's sanitised `html` field; everything else (names,
// file names, quotes) is set as text.
(function () {
  "use strict";
  var root = document.getElementById("chat");
  if (!root || !window.tram || !window.tram.live) return;
  var api = window.tram.api, live = window.tram.live;
  var me = root.getAttribute("data-me"), convId = root.getAttribute("data-open");
  var PAGE = 50;
  function $(id) { return document.getElementById(id); }
  function msg(key) { return root.getAttribute("data-msg-" + key) || ""; }
  function fill(text, values) { return text.replace(/\{(\w+)\}/g, function (_, k) { return values[k]; }); }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function later(fn, ms) {
    var timer = null;
    return function () { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }
  function when(ms) {
    var d = new Date(ms), now = new Date(), lang = document.documentElement.lang || undefined;
    var time = d.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
    return d.toDateString() === now.toDateString() ? time : d.toLocaleDateString(lang) + " " + time;
  }
  function safeUrl(url) { return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/" ? url : null; }

  // ---- the conversation list (server-rendered; swapped in when it changes)
  var refreshList = later(function () {
    fetch("/chat/fragments/list?open=" + encodeURIComponent(convId || ""), { credentials: "same-origin" })
      .then(function (res) { return res.ok ? res.text() : null; })
      .then(function (html) {
        var list = $("conv-list");
        if (html && list) list.outerHTML = html;
      });
  }, 250);

  live.on("message", function (e) {
    refreshList();
    if (e.conversation_id === convId) onLive(e.message);
  });
  live.on("message_updated", function (e) {
    // Only what is shown: an old message placed alone would hide the gap
    // before it from scrolling back.
    if (e.conversation_id === convId && bySeq[e.message.seq]) place(e.message);
  });
  live.on("read", function (e) {
    if (e.conversation_id !== convId) return;
    if (e.user_id === me) refreshList(); else refreshReceipts();
  });
  live.on("conversation_changed", function (e) {
    refreshList();
    if (e.conversation_id === convId) loadDetails();
  });
  live.on("ready", refreshList);

  setupSearch();
  setupCentre();
  var desktop = $("desktop-enable");
  if (desktop && window.Notification && Notification.permission === "default") {
    desktop.hidden = false;
    desktop.addEventListener("click", function () {
      Notification.requestPermission().then(function () { desktop.hidden = true; });
    });
  }

  if (!convId) { live.start(); return; }

  // ---- the open conversation
  var pane = $("messages"), text = $("composer-text"), markdown = $("composer-markdown");
  var bySeq = {}, oldest = null, newest = null, atStart = false, atEnd = true;
  var loadingOlder = false, loadingNewer = false, loaded = false, pending = [];
  var details = null, lastRead = 0, replyTo = null, editing = null, chosen = {};

  function base() { return "/api/v1/conversations/" + encodeURIComponent(convId); }
  function history(query) {
    return api("GET", base() + "/messages?limit=" + PAGE + "&" + query).then(function (r) {
      if (r.status === 404 || r.status === 410) gone();
      return r.ok && Array.isArray(r.body) ? r.body : [];
    });
  }
  function nearBottom() { return pane.scrollHeight - pane.scrollTop - pane.clientHeight < 80; }
  function toBottom() { pane.scrollTop = pane.scrollHeight; }

  function render(m) {
    var mine = m.sender_id === me;
    var node = el("article", "msg" + (mine ? " mine" : "") + (m.recalled ? " recalled" : ""));
    node.setAttribute("data-testid", "message");
    node.setAttribute("data-seq", m.seq);
    node.setAttribute("data-id", m.id);
    node.message = m;
    var meta = el("div", "msg-meta");
    meta.appendChild(el("span", "msg-sender", m.sender_name || ""));
    meta.appendChild(el("time", "msg-time", when(m.created_at)));
    if (m.edited_at && !m.recalled) meta.appendChild(el("span", "msg-edited", msg("edited")));
    node.appendChild(meta);
    if (m.reply_to) {
      var quote = el("blockquote", "msg-quote", (m.reply_to.sender_name || "") + ": " + (m.reply_to.excerpt || msg("recalled")));
      quote.setAttribute("data-testid", "reply-quote");
      quote.setAttribute("data-seq", m.reply_to.seq);
      node.appendChild(quote);
    }
    var body = el("div", "msg-body");
    body.setAttribute("data-testid", "message-body");
    if (m.recalled) body.textContent = msg("recalled");
    else body.innerHTML = m.html;
    node.appendChild(body);
    var attachment = m.recalled ? null : attachmentOf(m);
    if (attachment) node.appendChild(attachment);
    if (!m.recalled && m.kind !== "system") {
      var actions = el("div", "msg-actions");
      actions.appendChild(action("reply", "reply"));
      if (mine) {
        if (m.kind === "text" || m.kind === "markdown") actions.appendChild(action("edit", "edit"));
        actions.appendChild(action("recall", "recall"));
        var receipt = el("span", "receipt");
        receipt.setAttribute("data-testid", "receipt");
        actions.appendChild(receipt);
      }
      node.appendChild(actions);
    }
    return node;
  }
  function action(name, key) {
    var button = el("button", "link", msg(key));
    button.type = "button";
    button.setAttribute("data-action", name);
    button.setAttribute("data-testid", "message-" + name);
    return button;
  }
  function attachmentOf(m) {
    var a = m.attachment;
    if (!a && !m.attachment_id) return null;
    var url = (a && safeUrl(a.url)) || "/api/v1/attachments/" + encodeURIComponent(a ? a.id : m.attachment_id);
    var name = (a && a.file_name) || msg("file");
    var link = el("a", "msg-attachment");
    link.href = url;
    link.setAttribute("data-testid", "attachment");
    if (m.kind === "image") {
      var img = el("img");
      img.src = url;
      img.alt = name;
      img.loading = "lazy";
      link.target = "_blank";
      link.rel = "noopener";
      link.appendChild(img);
    } else {
      link.setAttribute("download", name);
      link.textContent = "📎 " + name + (a && a.size_bytes ? " (" + Math.max(1, Math.round(a.size_bytes / 1024)) + " KB)" : "");
    }
    return link;
  }

  // Shows a message once, in sequence order; a changed one (edited,
  // recalled) replaces what was shown.
  function place(m) {
    var shown = bySeq[m.seq];
    if (shown) {
      var old = shown.message;
      if (old.edited_at !== m.edited_at || old.recalled !== m.recalled) {
        var fresh = render(m);
        shown.replaceWith(fresh);
        bySeq[m.seq] = fresh;
        if (fresh.querySelector(".receipt")) refreshReceipts();
      }
      return;
    }
    var node = render(m);
    var after = pane.lastElementChild;
    while (after && after.hasAttribute("data-seq") && +after.getAttribute("data-seq") > m.seq) after = after.previousElementSibling;
    if (after) after.after(node); else pane.prepend(node);
    bySeq[m.seq] = node;
    if (oldest === null || m.seq < oldest) oldest = m.seq;
    if (newest === null || m.seq > newest) newest = m.seq;
    if (m.seq === 1) markStart();
  }
  function markStart() {
    if (atStart) return;
    atStart = true;
    var start = el("div", "msg-start muted", msg("start"));
    start.setAttribute("data-testid", "history-start");
    pane.prepend(start);
  }

  function loadOlder() {
    if (loadingOlder || atStart || oldest === null) return Promise.resolve();
    loadingOlder = true;
    var fromBottom = pane.scrollHeight - pane.scrollTop;
    return history("before=" + oldest).then(function (list) {
      list.forEach(place);
      if (list.length < PAGE) markStart();
      pane.scrollTop = pane.scrollHeight - fromBottom;
      loadingOlder = false;
      fillScreen();
    });
  }
  function loadNewer() {
    if (loadingNewer) return Promise.resolve();
    loadingNewer = true;
    var stick = nearBottom();
    return history("after=" + (newest || 0)).then(function (list) {
      list.forEach(place);
      loadingNewer = false;
      if (list.length < PAGE) atEnd = true;
      if (stick) toBottom();
      markRead();
    });
  }
  // Without a scroll bar there is no scrolling up: load until there is one.
  function fillScreen() {
    if (!atStart && pane.scrollHeight <= pane.clientHeight) loadOlder();
  }
  pane.addEventListener("scroll", function () {
    if (pane.scrollTop < 120) loadOlder();
    if (!atEnd && pane.scrollHeight - pane.scrollTop - pane.clientHeight < 120) loadNewer();
    if (nearBottom()) markRead();
  });

  function onLive(m) {
    if (!loaded) { pending.push(m); return; }
    if (!atEnd) return; // the pane is back in history; scrolling down loads it
    if (newest !== null && m.seq > newest + 1) { loadNewer(); return; }
    var stick = nearBottom() || m.sender_id === me;
    place(m);
    if (stick) toBottom();
    markRead();
    if (m.sender_id === me) refreshReceipts();
  }

  // Opens at the newest page, or around ?at=<seq> (a search hit or an
  // alert) with that message highlighted.
  function open() {
    var at = parseInt(new URLSearchParams(location.search).get("at"), 10);
    var first = at > 0 ? openAt(at) : history("").then(function (list) {
      list.forEach(place);
      if (list.length < PAGE) markStart();
      toBottom();
    });
    first.then(function () {
      if (atEnd) live.seen(convId, newest || 0);
      loaded = true;
      pending.splice(0).forEach(onLive);
      live.start();
      if (!atEnd) loadNewer();
      fillScreen();
      markRead();
      refreshReceipts();
    });
  }
  function openAt(at) {
    atEnd = false;
    var tries = 0;
    function findIt() {
      if (bySeq[at] || atStart || tries++ > 40) return Promise.resolve();
      return loadOlder().then(findIt);
    }
    return history("around=" + at).then(function (list) {
      list.forEach(place);
      return findIt();
    }).then(function () {
      var target = bySeq[at];
      if (!target) return;
      target.classList.add("highlight");
      target.setAttribute("data-highlighted", "true");
      target.scrollIntoView({ block: "center" });
    });
  }

  var markRead = later(function () {
    if (document.hidden || newest === null || newest <= lastRead || !nearBottom()) return;
    var seq = newest;
    api("POST", base() + "/read", { seq: seq }).then(function (r) {
      if (r.ok) { lastRead = r.body.read_seq; refreshList(); }
    });
  }, 300);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) markRead(); });

  var refreshReceipts = later(function () {
    var mine = Array.prototype.slice.call(pane.querySelectorAll(".msg.mine .receipt"), -30);
    mine.forEach(function (receipt) {
      var node = receipt.closest(".msg");
      api("GET", base() + "/messages/" + encodeURIComponent(node.getAttribute("data-id")) + "/receipt").then(function (r) {
        if (!r.ok) return;
        var n = r.body.read_by.length, m = r.body.recipients;
        receipt.textContent = details && details.conversation.kind === "direct"
          ? msg(n > 0 ? "read" : "unread") : fill(msg("read-by"), { n: n, m: m });
        receipt.setAttribute("data-read", n);
        receipt.setAttribute("data-of", m);
      });
    });
  }, 400);

  // ---- details: title, announcement, mute, members (for @mentions)
  var muteButton = $("mute-toggle");
  function loadDetails() {
    return api("GET", base()).then(function (r) {
      if (!r.ok) { if (r.status === 404 || r.status === 410) gone(); return; }
      details = r.body;
      var c = details.conversation;
      lastRead = Math.max(lastRead, c.read_seq);
      $("chat-title").textContent = c.title;
      $("announcement-text").textContent = c.announcement || "";
      $("announcement").hidden = !c.announcement;
      showMute(c.muted);
      if (!$("panel").hidden) loadPanel();
    });
  }
  function showMute(muted) {
    muteButton.setAttribute("aria-pressed", muted ? "true" : "false");
    muteButton.textContent = muteButton.getAttribute(muted ? "data-msg-unmute" : "data-msg-mute");
  }
  muteButton.addEventListener("click", function () {
    var muted = muteButton.getAttribute("aria-pressed") !== "true";
    api("PUT", base() + "/mute", { muted: muted }).then(function (r) {
      if (r.ok) { showMute(muted); refreshList(); }
    });
  });
  function gone() {
    var form = $("composer");
    if (form.hidden) return;
    form.hidden = true;
    var note = el("div", "alert info", msg("gone"));
    note.setAttribute("data-testid", "conversation-gone");
    form.after(note);
  }

  // ---- the settings panel (a server-rendered fragment)
  var panel = $("panel");
  function loadPanel() {
    return fetch("/chat/" + encodeURIComponent(convId) + "/panel", { credentials: "same-origin" })
      .then(function (res) { return res.ok ? res.text() : ""; })
      .then(function (html) { panel.innerHTML = html; panel.hidden = !html; });
  }
  $("panel-toggle").addEventListener("click", function () {
    if (panel.hidden) loadPanel(); else panel.hidden = true;
  });
  panel.addEventListener("click", function (e) { if (e.target.closest("#panel-close")) panel.hidden = true; });
  panel.addEventListener("tram:api-done", function () { loadPanel(); loadDetails(); refreshList(); });

  // ---- message actions
  pane.addEventListener("click", function (e) {
    var quote = e.target.closest(".msg-quote");
    if (quote && bySeq[quote.getAttribute("data-seq")]) {
      bySeq[quote.getAttribute("data-seq")].scrollIntoView({ block: "center" });
      return;
    }
    var button = e.target.closest("[data-action]");
    if (!button) return;
    var m = button.closest(".msg").message;
    var what = button.getAttribute("data-action");
    if (what === "reply") {
      editing = null;
      replyTo = m;
      context(fill(msg("replying"), { name: m.sender_name || "" }) + ": " + (m.body || "").slice(0, 80));
    } else if (what === "edit") {
      replyTo = null;
      editing = m;
      text.value = m.body;
      markdown.checked = m.kind === "markdown";
      context(msg("editing"));
    } else if (what === "recall" && window.confirm(msg("recall-confirm"))) {
      api("POST", base() + "/messages/" + encodeURIComponent(m.id) + "/recall").then(function (r) {
        if (r.ok) place(r.body); else showError(r);
      });
    }
  });
  function context(line) {
    $("composer-context-text").textContent = line;
    $("composer-context").hidden = !line;
    text.focus();
  }
  function resetComposer() {
    replyTo = null;
    editing = null;
    chosen = {};
    text.value = "";
    context("");
    hidePicker();
  }
  $("composer-cancel").addEventListener("click", resetComposer);
  function showError(r) {
    var box = $("composer-error");
    box.textContent = (r && r.body && r.body.error && r.body.error.message) || (r && (r.status === 404 || r.status === 405) ? msg("unavailable") : msg("failed"));
    box.hidden = false;
  }
  function clientId() { return Date.now().toString(36) + Math.random().toString(36).slice(2, 10); }

  // ---- sending
  function mentionsIn(body) {
    var ids = [], all = false;
    Object.keys(chosen).forEach(function (name) {
      if (body.indexOf("@" + name) < 0) return;
      if (chosen[name] === "*") all = true; else ids.push(chosen[name]);
    });
    return { ids: ids, all: all };
  }
  $("composer").addEventListener("submit", function (e) {
    e.preventDefault();
    var body = text.value;
    if (!body.trim()) return;
    $("composer-error").hidden = true;
    var request;
    if (editing) {
      request = api("PATCH", base() + "/messages/" + encodeURIComponent(editing.id), { body: body });
    } else {
      var mentions = mentionsIn(body);
      request = api("POST", base() + "/messages", {
        kind: markdown.checked ? "markdown" : "text",
        body: body,
        mentions: mentions.ids,
        mention_all: mentions.all,
        reply_to: replyTo ? replyTo.id : null,
        client_id: clientId(),
      });
    }
    request.then(function (r) {
      if (!r.ok) { showError(r); return; }
      resetComposer();
      sent(r.body);
    });
  });
  function sent(m) {
    if (atEnd && (newest === null || m.seq <= newest + 1 || bySeq[m.seq])) place(m);
    else if (atEnd) loadNewer();
    toBottom();
    refreshReceipts();
  }
  text.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      var first = picker.querySelector("button");
      if (!picker.hidden && first) first.click();
      else $("composer").requestSubmit();
    } else if (e.key === "Escape") {
      hidePicker();
    }
  });

  // ---- attachments
  $("composer-file").addEventListener("change", function (e) {
    var files = Array.prototype.slice.call(e.target.files || []);
    e.target.value = "";
    $("composer-error").hidden = true;
    files.forEach(function (file) {
      var query = "?name=" + encodeURIComponent(file.name) + "&client_id=" + clientId() + (replyTo ? "&reply_to=" + encodeURIComponent(replyTo.id) : "");
      api("POST", base() + "/files" + query, file, { raw: true, contentType: file.type || "application/octet-stream" }).then(function (r) {
        if (!r.ok) { showError(r); return; }
        resetComposer();
        sent(r.body);
      });
    });
  });

  // ---- the @mention picker
  var picker = $("mention-picker");
  function hidePicker() { picker.hidden = true; picker.textContent = ""; }
  function mentionQuery() {
    var before = text.value.slice(0, text.selectionStart);
    var match = /(^|\s)@([^\s@]*)$/.exec(before);
    return match ? match[2] : null;
  }
  function showPicker() {
    var q = mentionQuery();
    if (q === null || !details) { hidePicker(); return; }
    var options = details.members
      .filter(function (m) { return m.user_id !== me; })
      .map(function (m) { return { id: m.user_id, name: m.display_name }; });
    if (details.conversation.kind === "group") options.unshift({ id: "*", name: msg("everyone") });
    options = options.filter(function (o) { return o.name.toLowerCase().indexOf(q.toLowerCase()) >= 0; });
    picker.textContent = "";
    options.slice(0, 8).forEach(function (o) {
      var button = el("button", "mention-option", "@" + o.name);
      button.type = "button";
      button.setAttribute("role", "option");
      button.setAttribute("data-testid", "mention-option");
      button.addEventListener("click", function () { choose(o, q); });
      picker.appendChild(button);
    });
    picker.hidden = options.length === 0;
  }
  function choose(option, q) {
    var caret = text.selectionStart;
    var start = caret - q.length - 1;
    var insert = "@" + option.name + " ";
    text.value = text.value.slice(0, start) + insert + text.value.slice(caret);
    text.selectionStart = text.selectionEnd = start + insert.length;
    chosen[option.name] = option.id;
    hidePicker();
    text.focus();
  }
  text.addEventListener("input", showPicker);
  $("mention-button").addEventListener("click", function () {
    var caret = text.selectionStart;
    var lead = caret > 0 && !/\s/.test(text.value.charAt(caret - 1)) ? " @" : "@";
    text.value = text.value.slice(0, caret) + lead + text.value.slice(caret);
    text.selectionStart = text.selectionEnd = caret + lead.length;
    text.focus();
    showPicker();
  });

  loadDetails().then(open);

  // ---- search and the notification centre
  function resultLink(conversationId, seq, title, line, html, testid) {
    var link = el("a", "result");
    link.href = "/chat/" + encodeURIComponent(conversationId) + "?at=" + encodeURIComponent(seq);
    link.setAttribute("data-testid", testid);
    link.appendChild(el("strong", "", title));
    link.appendChild(el("span", "muted", " " + line));
    var snippet = el("div", "result-snippet");
    snippet.innerHTML = html;
    link.appendChild(snippet);
    return link;
  }
  function setupSearch() {
    var form = $("chat-search"), box = $("search-results");
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var q = $("chat-search-q").value.trim();
      box.textContent = "";
      box.hidden = !q;
      if (!q) return;
      api("GET", "/api/v1/chat/search?q=" + encodeURIComponent(q)).then(function (r) {
        if (!r.ok || !Array.isArray(r.body)) { box.appendChild(el("p", "muted", r.status === 404 ? msg("unavailable") : msg("failed"))); return; }
        if (!r.body.length) box.appendChild(el("p", "muted", msg("no-results")));
        r.body.forEach(function (hit) {
          box.appendChild(resultLink(hit.conversation_id, hit.seq, hit.conversation_name,
            (hit.sender_name || "") + " · " + when(hit.created_at), hit.snippet_html, "search-result"));
        });
      });
    });
    $("chat-search-q").addEventListener("search", function () { if (!this.value) { box.hidden = true; box.textContent = ""; } });
  }
  function setupCentre() {
    var box = $("centre"), items = $("centre-items");
    $("centre-open").addEventListener("click", function () {
      box.hidden = !box.hidden;
      if (box.hidden) return;
      items.textContent = "";
      api("GET", "/api/v1/me/notification-centre").then(function (r) {
        if (!r.ok || !Array.isArray(r.body)) { items.appendChild(el("p", "muted", r.status === 404 ? msg("unavailable") : msg("failed"))); return; }
        if (!r.body.length) items.appendChild(el("p", "muted", msg("centre-empty")));
        r.body.forEach(function (entry) {
          var m = entry.message;
          items.appendChild(resultLink(entry.conversation_id, m.seq, entry.conversation_name,
            (m.sender_name || "") + " · " + when(m.created_at), m.recalled ? "" : m.html, "centre-item"));
        });
      });
    });
  }
})();
