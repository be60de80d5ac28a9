// The chat page (/chat, /chat/{id}): the message pane (the newest page
// first, or the page around one message when opened at a search hit or a
// notification-centre entry; older pages on scrolling up, newer ones on
// scrolling down until the live end), the composer (Markdown, @mentions,
// replies, edits, recall, file uploads with progress), "read by" receipts,
// and the settings panel; search and the notification centre are
// chat-find.js. Live events come from tram.live (live.js). Message HTML is
// the server's sanitised `html` field; everything else (names, file names,
// quotes) is set as text.
(function () {
  "use strict";
  var root = document.getElementById("chat");
  if (!root || !window.tram || !window.tram.live) return;
  var tram = window.tram, api = tram.api, live = tram.live, el = tram.el, later = tram.later, when = tram.when;
  var me = root.getAttribute("data-me"), convId = root.getAttribute("data-open");
  var PAGE = 50;
  function $(id) { return document.getElementById(id); }
  function msg(key) { return root.getAttribute("data-msg-" + key) || ""; }
  function fill(text, values) { return text.replace(/\{(\w+)\}/g, function (_, k) { return values[k]; }); }
  function size(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return Math.round(bytes / 1024) + " KB";
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }
  function safeUrl(url) { return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/" ? url : null; }
  // The API's own message for a failed call, or ours if it sent none.
  function errorText(r, fallback) { return tram.errorMessage(r) || msg(fallback); }

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
    if (e.user_id === me) refreshList();
    else if (e.conversation_id === convId) refreshReceipts();
  });
  live.on("conversation_changed", function (e) {
    refreshList();
    if (e.conversation_id === convId) loadDetails();
  });
  live.on("ready", refreshList);

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
  // What the pane shows: messages by seq, the lowest and highest shown,
  // whether it reaches the first message and the live end. `view` counts
  // resets, so a page that arrives for an earlier view is dropped.
  var bySeq = {}, oldest = null, newest = null, atStart = false, atEnd = true, view = 0;
  var loadingOlder = false, loadingNewer = false, newerAgain = false, missedLive = false, pinned = true;
  var loaded = false, pending = [];
  var details = null, lastRead = 0, replyTo = null, editing = null, chosen = {};
  // The group's robots that can be @mentioned ({id, name}); a chosen one
  // goes into the message's robot_mentions.
  var robots = [], robotsLoading = null, chosenRobots = {};
  // The directory is read again when the picker opens (an admin may have
  // added a robot since the page loaded); a picker opened while it loads
  // is drawn again when it arrives.
  function loadRobots() {
    if (!details || details.conversation.kind !== "group") { robots = []; return Promise.resolve(); }
    var loading = api("GET", base() + "/robot-directory").then(function (d) {
      robots = d.ok && Array.isArray(d.body) ? d.body : [];
      if (robotsLoading === loading) robotsLoading = null;
    });
    robotsLoading = loading;
    return loading;
  }

  function base() { return "/api/v1/conversations/" + encodeURIComponent(convId); }
  // One page of history for the current view: {stale} if the view changed
  // meanwhile, else {list}, null when the request failed.
  function fetchPage(query) {
    var mine = view;
    return api("GET", base() + "/messages?limit=" + PAGE + (query ? "&" + query : "")).then(function (r) {
      if (mine !== view) return { stale: true };
      if (r.status === 404 || r.status === 410) gone();
      return { list: r.ok && Array.isArray(r.body) ? r.body : null };
    });
  }
  function fromBottom() { return pane.scrollHeight - pane.scrollTop - pane.clientHeight; }
  function nearBottom() { return fromBottom() < 80; }
  function toBottom() { pane.scrollTop = pane.scrollHeight; pinned = true; }

  function render(m) {
    var mine = m.sender_id === me;
    var node = el("article", "msg" + (mine ? " mine" : "") + (m.recalled ? " recalled" : ""));
    node.setAttribute("data-testid", "message");
    node.setAttribute("data-seq", m.seq);
    node.setAttribute("data-id", m.id);
    node.message = m;
    var meta = el("div", "msg-meta");
    if (m.robot_id) {
      // A robot's picture: only an http(s) address (the server checked it too).
      if (/^https?:\/\//i.test(m.sender_avatar || "")) {
        var avatar = el("img", "msg-avatar");
        avatar.src = m.sender_avatar;
        avatar.alt = "";
        avatar.referrerPolicy = "no-referrer";
        meta.appendChild(avatar);
      }
      node.classList.add("from-robot");
    }
    meta.appendChild(el("span", "msg-sender", m.sender_name || ""));
    if (m.robot_id) {
      var badge = el("span", "badge msg-robot", msg("robot"));
      badge.setAttribute("data-testid", "robot-badge");
      meta.appendChild(badge);
    }
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
  // An image inline, any other file as a download link named by its (text) name.
  function attachmentOf(m) {
    var a = m.attachment, url = a && safeUrl(a.url);
    if (!url) return null;
    var link = el("a", "msg-attachment");
    link.href = url;
    link.setAttribute("data-testid", "attachment");
    if (m.kind === "image") {
      var img = el("img");
      img.alt = a.file_name;
      img.setAttribute("data-testid", "attachment-image");
      // An image grows the pane when it arrives: stay at the bottom if there.
      img.addEventListener("load", function () { if (pinned) toBottom(); });
      img.src = url;
      link.target = "_blank";
      link.rel = "noopener";
      link.appendChild(img);
    } else {
      link.className += " file";
      link.setAttribute("download", a.file_name);
      var name = el("span", "file-name", a.file_name);
      name.setAttribute("data-testid", "attachment-name");
      link.appendChild(name);
      link.appendChild(el("span", "muted file-size", size(a.size_bytes)));
    }
    return link;
  }

  // Shows a message once, in sequence order; a changed one (edited,
  // recalled) replaces what was shown.
  function place(m) {
    var shown = bySeq[m.seq];
    if (shown) {
      var old = shown.message;
      // Edited, recalled, or a notice's card closed (its HTML changed).
      if (old.edited_at !== m.edited_at || old.recalled !== m.recalled || old.html !== m.html) {
        var fresh = render(m);
        if (shown.classList.contains("highlight")) fresh.classList.add("highlight");
        if (shown.hasAttribute("data-highlighted")) fresh.setAttribute("data-highlighted", "true");
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

  // Empties the pane for a new view that is (or is not yet) at the live end.
  function reset(end) {
    view += 1;
    pane.textContent = "";
    bySeq = {};
    oldest = newest = null;
    atStart = false;
    atEnd = end;
    loadingOlder = loadingNewer = newerAgain = missedLive = false;
  }

  function loadOlder() {
    if (loadingOlder || atStart || oldest === null) return Promise.resolve();
    loadingOlder = true;
    var anchor = pane.querySelector(".msg"), top = anchor ? anchor.getBoundingClientRect().top : 0;
    return fetchPage("before=" + oldest).then(function (page) {
      if (page.stale) return;
      loadingOlder = false;
      if (!page.list) return;
      page.list.forEach(place);
      if (page.list.length < PAGE) markStart();
      // What was on screen stays where it was.
      if (anchor) pane.scrollTop += anchor.getBoundingClientRect().top - top;
      fillScreen();
    });
  }
  // The messages after the newest shown: scrolling down through history
  // after a jump, or a gap in the live stream. A short page means the live
  // end is reached; from then on live messages are placed as they come.
  function loadNewer() {
    if (loadingNewer) { newerAgain = true; return Promise.resolve(); }
    loadingNewer = true;
    newerAgain = false;
    var stick = atEnd && nearBottom();
    return fetchPage("after=" + (newest || 0)).then(function (page) {
      if (page.stale) return;
      loadingNewer = false;
      if (!page.list) return;
      page.list.forEach(place);
      if (stick) toBottom();
      if (page.list.length < PAGE && !atEnd) {
        atEnd = true;
        live.seen(convId, newest || 0);
        // Live messages skipped while in history may have come after this page.
        if (missedLive) { missedLive = false; newerAgain = true; }
      }
      if (newerAgain || (atEnd && page.list.length === PAGE) || (!atEnd && fromBottom() < 120)) loadNewer();
      markRead();
    });
  }
  // Without a scroll bar there is no scrolling up: load until there is one.
  function fillScreen() {
    if (!atStart && pane.scrollHeight <= pane.clientHeight) loadOlder();
  }
  pane.addEventListener("scroll", function () {
    pinned = atEnd && nearBottom();
    if (pane.scrollTop < 120) loadOlder();
    if (!atEnd && !loadingNewer && fromBottom() < 120) loadNewer();
    if (nearBottom()) markRead();
  });

  function onLive(m) {
    if (!loaded) { pending.push(m); return; }
    if (!atEnd) { missedLive = true; return; } // back in history: scrolling down brings it
    if (!bySeq[m.seq] && m.seq > (newest || 0) + 1) { loadNewer(); return; }
    var stick = nearBottom() || m.sender_id === me;
    place(m);
    if (stick) toBottom();
    markRead();
    if (m.sender_id === me) refreshReceipts();
  }

  // Shows the newest page, or (at > 0) the page around message `at`,
  // highlighted and scrolled into view, then whatever follows it.
  function show(at) {
    var around = at > 0;
    reset(!around);
    return fetchPage(around ? "around=" + at : "").then(function (page) {
      if (page.stale || !page.list) return;
      if (around && !page.list.length) return show(0);
      page.list.forEach(place);
      if (!around) {
        if (page.list.length < PAGE) markStart();
        toBottom();
      } else {
        var target = bySeq[at];
        if (target) {
          target.classList.add("highlight");
          target.setAttribute("data-highlighted", "true");
          target.scrollIntoView({ block: "center" });
        }
        pinned = false;
        loadNewer();
      }
      fillScreen();
    });
  }
  // Opens a message in context without leaving the page (search results
  // and centre entries of this conversation, quotes of unshown messages).
  function jumpTo(seq) {
    window.history.replaceState(null, "", location.pathname + "?at=" + encodeURIComponent(seq));
    return show(seq).then(function () { markRead(); refreshReceipts(); });
  }
  function showLatest() {
    if (location.search) window.history.replaceState(null, "", location.pathname);
    return show(0).then(function () { markRead(); refreshReceipts(); });
  }

  var markRead = later(function () {
    if (document.hidden || newest === null || newest <= lastRead || !nearBottom()) return;
    api("POST", base() + "/read", { seq: newest }).then(function (r) {
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
      loadRobots();
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
    if (quote) {
      var seq = +quote.getAttribute("data-seq");
      if (bySeq[seq]) bySeq[seq].scrollIntoView({ block: "center" }); else if (seq > 0) jumpTo(seq);
      return;
    }
    var button = e.target.closest("[data-action]");
    if (!button) return;
    var m = button.closest(".msg").message;
    var what = button.getAttribute("data-action");
    if (what === "reply") {
      editing = null;
      replyTo = m;
      context(fill(msg("replying"), { name: m.sender_name || "" }) + ": " + (m.body || (m.attachment && m.attachment.file_name) || "").slice(0, 80));
    } else if (what === "edit") {
      replyTo = null;
      editing = m;
      text.value = m.body;
      markdown.checked = m.kind === "markdown";
      context(msg("editing"));
    } else if (what === "recall" && window.confirm(msg("recall-confirm"))) {
      api("POST", base() + "/messages/" + encodeURIComponent(m.id) + "/recall").then(function (r) {
        if (r.ok) place(r.body); else showError(errorText(r, "failed"));
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
    chosenRobots = {};
    text.value = "";
    context("");
    hidePicker();
  }
  $("composer-cancel").addEventListener("click", resetComposer);
  function showError(line) {
    var box = $("composer-error");
    box.textContent = line;
    box.hidden = false;
  }
  function hideError() { $("composer-error").hidden = true; }
  function clientId() { return Date.now().toString(36) + Math.random().toString(36).slice(2, 10); }

  // ---- sending
  function mentionsIn(body) {
    var ids = [], all = false;
    Object.keys(chosen).forEach(function (name) {
      if (body.indexOf("@" + name) < 0) return;
      if (chosen[name] === "*") all = true; else ids.push(chosen[name]);
    });
    var robotIds = Object.keys(chosenRobots).filter(function (name) {
      return body.indexOf("@" + name) >= 0;
    }).map(function (name) { return chosenRobots[name]; });
    return { ids: ids, all: all, robots: robotIds };
  }
  $("composer").addEventListener("submit", function (e) {
    e.preventDefault();
    var body = text.value;
    if (!body.trim()) return;
    hideError();
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
        robot_mentions: mentions.robots,
        reply_to: replyTo ? replyTo.id : null,
        client_id: clientId(),
      });
    }
    var wasEdit = !!editing;
    request.then(function (r) {
      if (!r.ok) { showError(errorText(r, "failed")); return; }
      resetComposer();
      if (wasEdit) place(r.body); else sent(r.body);
    });
  });
  // My new message: shown at the end, or, if the pane is back in history,
  // the pane goes to the newest page, which holds it.
  function sent(m) {
    if (!atEnd) { showLatest(); return; }
    if (bySeq[m.seq] || m.seq <= (newest || 0) + 1) place(m); else loadNewer();
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

  // ---- uploads: one file at a time, in the order chosen; the attach
  // button is disabled meanwhile and a bar shows how much is sent. A file
  // over the server's limit is refused here with the server's own words
  // (sending it would only be refused); any other refusal shows the API's
  // message. A failed upload adds no message.
  var fileInput = $("composer-file"), attach = $("composer-attach"), maxUpload = +root.getAttribute("data-max-upload") || 0;
  fileInput.addEventListener("change", function () {
    var files = Array.prototype.slice.call(fileInput.files || []);
    fileInput.value = "";
    if (!files.length || fileInput.disabled) return;
    hideError();
    uploadNext(files);
  });
  function uploading(file) {
    fileInput.disabled = !!file;
    attach.classList.toggle("disabled", !!file);
    attach.setAttribute("aria-disabled", file ? "true" : "false");
    $("upload-status").hidden = !file;
    if (file) {
      $("upload-name").textContent = fill(msg("uploading"), { name: file.name });
      $("upload-progress").value = 0;
    }
  }
  function uploadNext(files) {
    var file = files.shift();
    if (!file) { uploading(null); return; }
    if (maxUpload && file.size > maxUpload) { uploading(null); showError(msg("too-large")); return; }
    uploading(file);
    var query = "?name=" + encodeURIComponent(file.name) + "&client_id=" + clientId() + (replyTo ? "&reply_to=" + encodeURIComponent(replyTo.id) : "");
    tram.upload(base() + "/files" + query, file, function (done) { $("upload-progress").value = done; }).then(function (r) {
      if (!r.ok) { uploading(null); showError(errorText(r, "upload-failed")); return; }
      if (replyTo) { replyTo = null; context(""); }
      sent(r.body);
      uploadNext(files);
    });
  }

  // ---- the @mention picker
  var picker = $("mention-picker");
  function hidePicker() { picker.hidden = true; picker.textContent = ""; }
  function mentionQuery() {
    var before = text.value.slice(0, text.selectionStart);
    var match = /(^|\s)@([^\s@]*)$/.exec(before);
    return match ? match[2] : null;
  }
  function showPicker(fresh) {
    var q = mentionQuery();
    if (q === null || !details) { hidePicker(); return; }
    // Opening: read the robot directory again, then draw once more.
    if (picker.hidden && fresh !== true) {
      (robotsLoading || loadRobots()).then(function () { showPicker(true); });
    }
    var options = details.members
      .filter(function (m) { return m.user_id !== me; })
      .map(function (m) { return { id: m.user_id, name: m.display_name }; });
    if (details.conversation.kind === "group") options.unshift({ id: "*", name: msg("everyone") });
    robots.forEach(function (r) { options.push({ id: r.id, name: r.name, robot: true }); });
    options = options.filter(function (o) { return o.name.toLowerCase().indexOf(q.toLowerCase()) >= 0; });
    picker.textContent = "";
    options.slice(0, 8).forEach(function (o) {
      var button = el("button", "mention-option", "@" + o.name);
      button.type = "button";
      button.setAttribute("role", "option");
      button.setAttribute("data-testid", o.robot ? "mention-robot" : "mention-option");
      if (o.robot) button.appendChild(el("span", "badge msg-robot", msg("robot")));
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
    if (option.robot) chosenRobots[option.name] = option.id; else chosen[option.name] = option.id;
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

  // A robot card's callback button: the server tells the robot's server,
  // whose answer arrives as a message.
  root.addEventListener("click", function (e) {
    var button = e.target.closest("[data-card-callback]");
    if (!button) return;
    var node = button.closest("[data-id]");
    if (!node) return;
    button.disabled = true;
    var path = base() + "/messages/" + encodeURIComponent(node.getAttribute("data-id")) +
      "/buttons/" + encodeURIComponent(button.getAttribute("data-card-callback"));
    api("POST", path, {}).then(function (r) {
      button.disabled = false;
      if (!r.ok) { showError(errorText(r, "failed")); return; }
      button.classList.add("clicked");
    });
  });

  // A work notice's act button (approve or reject from the chat): a dialog
  // asks for an optional comment, then the button's API is called as this
  // member. The API decides who may act; its refusal ("already decided",
  // "not yours") is shown in the dialog. A second click while the first
  // is under way is ignored, and the API takes a repeat once.
  var actDialog = $("card-act"), acting = null, actBusy = false;
  root.addEventListener("click", function (e) {
    var button = e.target.closest("[data-card-act]");
    if (!button || !actDialog || !pane.contains(button)) return;
    e.preventDefault();
    if (actBusy) return;
    acting = button;
    $("card-act-title").textContent = button.textContent;
    $("card-act-comment").value = "";
    $("card-act-error").hidden = true;
    $("card-act-confirm").disabled = false;
    actDialog.showModal();
    $("card-act-comment").focus();
  });
  function markActed(button) {
    var card = button.closest(".card-msg");
    if (!card) return;
    card.classList.add("acted");
    Array.prototype.forEach.call(card.querySelectorAll("[data-card-act]"), function (b) {
      b.classList.add("disabled");
      b.setAttribute("aria-disabled", "true");
      b.removeAttribute("data-card-act");
      b.removeAttribute("href");
    });
    var done = card.querySelector(".card-outcome") || el("div", "card-outcome");
    done.setAttribute("data-testid", "card-outcome");
    done.textContent = fill(msg("act-done"), { action: button.textContent });
    card.appendChild(done);
  }
  if (actDialog) $("card-act-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var button = acting, path = button && button.getAttribute("data-act-api");
    if (!button || actBusy || !path || path.indexOf("/api/") !== 0) return;
    var values = {};
    try { values = JSON.parse(button.getAttribute("data-act-values") || "{}") || {}; } catch (_) { values = {}; }
    var comment = $("card-act-comment").value.trim();
    if (comment) values.comment = comment;
    actBusy = true;
    $("card-act-confirm").disabled = true;
    api("POST", path, values).then(function (r) {
      actBusy = false;
      $("card-act-confirm").disabled = false;
      if (!r.ok) {
        var error = $("card-act-error");
        error.textContent = errorText(r, "failed");
        error.hidden = false;
        return;
      }
      actDialog.close();
      markActed(button);
    });
  });

  // Search results and centre entries of this conversation (chat-find.js).
  root.addEventListener("tram:open-message", function (e) {
    e.preventDefault();
    jumpTo(e.detail.seq);
  });

  loadDetails().then(function () {
    return show(parseInt(new URLSearchParams(location.search).get("at"), 10));
  }).then(function () {
    if (atEnd) live.seen(convId, newest || 0);
    loaded = true;
    pending.splice(0).forEach(onLive);
    live.start();
    markRead();
    refreshReceipts();
  });

})();
