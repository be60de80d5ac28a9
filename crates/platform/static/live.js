// The live stream (docs/websocket.md): one WebSocket per page. It keeps the
// last sequence number handed to the page per conversation and, after any
// drop, reconnects by itself (1 s, 2 s, 4 s … at most 15 s) and resumes from
// those cursors, so every message reaches the page once and in order. It
// shows the connection state in [data-live-indicator] and turns `notify`
// events into an in-page toast (and a desktop notification if allowed).
// The page starts it with tram.live.start() once it has said what it shows.
(function () {
  "use strict";
  var indicator = document.querySelector("[data-live-indicator]");
  if (!indicator || !window.WebSocket) return;
  var PING_EVERY = 20000;
  var listeners = {};
  var cursors = {};
  var recent = [];
  var socket = null, attempt = 0, retry = null, ping = null, awaitingPong = false, started = false;

  function emit(type, event) {
    (listeners[type] || []).forEach(function (fn) { fn(event); });
  }
  function text(key) { return indicator.getAttribute("data-msg-" + key) || ""; }
  function setState(state) {
    indicator.setAttribute("data-state", state);
    indicator.textContent = text(state);
    emit("state", state);
  }
  function send(frame) {
    if (socket && socket.readyState === 1) socket.send(JSON.stringify(frame));
  }

  function connect() {
    clearTimeout(retry);
    retry = null;
    if (socket) return;
    if (navigator.onLine === false) { setState("offline"); schedule(); return; }
    setState("connecting");
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/v1/ws");
    socket = ws;
    ws.onmessage = function (e) {
      if (socket !== ws) return;
      var event;
      try { event = JSON.parse(e.data); } catch (err) { return; }
      receive(event);
    };
    ws.onclose = function () { if (socket === ws) lost(); };
  }
  // The socket is gone (closed, silent, or the browser went offline).
  function lost() {
    var ws = socket;
    socket = null;
    clearInterval(ping);
    if (ws) { ws.onclose = null; try { ws.close(); } catch (e) {} }
    setState("offline");
    schedule();
  }
  function schedule() {
    if (retry) return;
    var delay = Math.min(1000 * Math.pow(2, attempt), 15000);
    attempt += 1;
    retry = setTimeout(connect, delay);
  }
  function keepAlive() {
    clearInterval(ping);
    awaitingPong = false;
    ping = setInterval(function () {
      if (awaitingPong) { lost(); return; }
      awaitingPong = true;
      send({ type: "ping" });
    }, PING_EVERY);
  }

  function receive(event) {
    switch (event.type) {
      case "ready": {
        var resume = {}, resuming = false;
        event.conversations.forEach(function (pair) {
          if (Object.prototype.hasOwnProperty.call(cursors, pair[0])) {
            resume[pair[0]] = cursors[pair[0]];
            resuming = true;
          } else {
            cursors[pair[0]] = pair[1];
          }
        });
        if (resuming) send({ type: "resume", cursors: resume });
        attempt = 0;
        keepAlive();
        setState("online");
        emit("ready", event);
        break;
      }
      case "message": {
        var id = event.conversation_id, seq = event.message.seq;
        if (Object.prototype.hasOwnProperty.call(cursors, id)) {
          // Seen already; or ahead of a resume the server is about to
          // answer in order (it sends the skipped ones, then this one).
          if (seq !== cursors[id] + 1) return;
        }
        cursors[id] = seq;
        recent.push(event.message);
        if (recent.length > 50) recent.shift();
        emit("message", event);
        break;
      }
      case "notify":
        alertUser(event);
        emit("notify", event);
        break;
      case "pong":
        awaitingPong = false;
        break;
      default:
        emit(event.type, event);
    }
  }

  function toasts() {
    var box = document.getElementById("toasts");
    if (!box) {
      box = document.createElement("div");
      box.id = "toasts";
      box.className = "toasts";
      box.setAttribute("aria-live", "polite");
      document.body.appendChild(box);
    }
    return box;
  }
  function alertUser(event) {
    var message = recent.filter(function (m) { return m.id === event.message_id; })[0];
    var title = text(event.mention ? "mention" : "notify");
    var line = message ? (message.sender_name || "") + ": " + (message.body || "").slice(0, 140) : "";
    var toast = document.createElement("a");
    toast.className = "toast";
    toast.href = "/chat/" + encodeURIComponent(event.conversation_id);
    toast.setAttribute("data-testid", "notification");
    toast.setAttribute("role", "status");
    var strong = document.createElement("strong");
    strong.textContent = title;
    var body = document.createElement("span");
    body.textContent = line;
    toast.appendChild(strong);
    toast.appendChild(body);
    toasts().appendChild(toast);
    setTimeout(function () { toast.remove(); }, 8000);
    if (window.Notification && Notification.permission === "granted") {
      try { new Notification(title, { body: line, tag: event.message_id }); } catch (e) {}
    }
  }

  window.addEventListener("offline", function () { if (started) lost(); });
  window.addEventListener("online", function () {
    if (!started) return;
    attempt = 0;
    connect();
  });
  document.addEventListener("visibilitychange", function () {
    if (started && !document.hidden && !socket) { attempt = 0; connect(); }
  });

  window.tram = window.tram || {};
  window.tram.live = {
    on: function (type, fn) { (listeners[type] = listeners[type] || []).push(fn); },
    // The page already shows a conversation up to `seq` (call before start).
    seen: function (id, seq) {
      if (!(cursors[id] >= seq)) cursors[id] = seq;
    },
    start: function () {
      if (started) return;
      started = true;
      connect();
    },
  };
})();
