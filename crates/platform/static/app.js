// Small behaviours that htmx does not cover. Vanilla JS, no build step.
(function () {
  "use strict";
  // Copy-to-clipboard buttons: <button data-copy="text">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    navigator.clipboard && navigator.clipboard.writeText(button.getAttribute("data-copy"));
    button.classList.add("copied");
  });
  // Resend buttons count down their cooldown: <button data-cooldown="60">.
  function startCooldown(button) {
    var left = parseInt(button.getAttribute("data-cooldown"), 10);
    if (!(left > 0)) return;
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.disabled = true;
    var timer = setInterval(function () {
      left -= 1;
      if (left <= 0) {
        clearInterval(timer);
        button.disabled = false;
        button.textContent = label;
        button.removeAttribute("data-cooldown");
      } else {
        button.textContent = label + " (" + left + ")";
      }
    }, 1000);
    button.textContent = label + " (" + left + ")";
  }
  function scan(root) {
    (root || document).querySelectorAll("[data-cooldown]").forEach(startCooldown);
  }
  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  document.addEventListener("htmx:afterSwap", function (e) { scan(e.target); });
  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }
  // A JSON API call with the CSRF header; resolves to {ok, status, body}
  // (body is the parsed JSON, or null), never rejects on HTTP errors.
  function parse(text) {
    try { return text ? JSON.parse(text) : null; } catch (e) { return null; }
  }
  function api(method, url, body) {
    var headers = { "X-CSRF-Token": csrf(), "Accept": "application/json" };
    var payload = body;
    if (body !== undefined && body !== null) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    return fetch(url, { method: method, credentials: "same-origin", headers: headers, body: payload })
      .then(function (res) {
        return res.text().then(function (text) {
          return { ok: res.ok, status: res.status, body: parse(text) };
        });
      }, function () { return { ok: false, status: 0, body: null }; });
  }
  // POSTs a file as the raw request body (its type as Content-Type) and
  // reports progress as a fraction; resolves like api(). XMLHttpRequest,
  // because fetch cannot tell how much of a body has been sent.
  function upload(url, file, onProgress) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("X-CSRF-Token", csrf());
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
      if (onProgress) {
        xhr.upload.onprogress = function (e) { if (e.lengthComputable && e.total) onProgress(e.loaded / e.total); };
      }
      xhr.onload = function () {
        resolve({ ok: xhr.status >= 200 && xhr.status < 300, status: xhr.status, body: parse(xhr.responseText) });
      };
      xhr.onerror = xhr.onabort = function () { resolve({ ok: false, status: 0, body: null }); };
      xhr.send(file);
    });
  }
  // Shows an API error body ({"error": {message, fields}}) in a form:
  // field messages in [data-error-for=name], the rest in [data-error-banner].
  function showErrors(form, body, fallback) {
    form.querySelectorAll("[data-error-for], [data-error-banner]").forEach(function (el) {
      el.textContent = ""; el.hidden = true;
    });
    if (body === undefined) return;
    var error = (body && body.error) || {};
    var fields = error.fields || {};
    var shown = false;
    Object.keys(fields).forEach(function (name) {
      var el = form.querySelector('[data-error-for="' + name + '"]');
      if (el) { el.textContent = fields[name]; el.hidden = false; shown = true; }
    });
    var banner = form.querySelector("[data-error-banner]");
    if (banner && (!shown || !Object.keys(fields).some(function (k) { return fields[k] === error.message; }))) {
      banner.textContent = error.message || fallback || "Error";
      banner.hidden = false;
    }
  }
  // JSON forms: <form data-api="/api/..." data-method="PUT" [data-go="/x/{id}"]
  // [data-confirm="question"]>. Fields become a JSON object (checkboxes with
  // data-json="list" gather into an array); success fires "tram:api-done"
  // on the form, or goes to data-go with {field}s filled from the answer.
  function formBody(form) {
    var body = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled) return;
      if (el.getAttribute("data-json") === "list") {
        body[el.name] = body[el.name] || [];
        if (el.checked) body[el.name].push(el.value);
      } else if (el.type === "checkbox") {
        body[el.name] = el.checked;
      } else {
        body[el.name] = el.value;
      }
    });
    return body;
  }
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-api]");
    if (!form) return;
    event.preventDefault();
    if (form.hasAttribute("data-confirm") && !window.confirm(form.getAttribute("data-confirm"))) return;
    var method = form.getAttribute("data-method") || "POST";
    var button = form.querySelector("[type=submit]");
    if (button) button.disabled = true;
    api(method, form.getAttribute("data-api"), method === "DELETE" ? null : formBody(form)).then(function (r) {
      if (button) button.disabled = false;
      if (!r.ok) { showErrors(form, r.body); return; }
      showErrors(form);
      var go = form.getAttribute("data-go");
      if (go) {
        location.href = go.replace(/\{(\w+)\}/g, function (_, key) {
          return encodeURIComponent((r.body && r.body[key]) || "");
        });
        return;
      }
      form.dispatchEvent(new CustomEvent("tram:api-done", { bubbles: true, detail: r.body }));
    });
  });
  // <button data-dialog="id"> opens <dialog id="id">; [data-dialog-close] closes it.
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog"));
      if (dialog && dialog.showModal) dialog.showModal();
    }
    var closer = event.target.closest("[data-dialog-close]");
    if (closer) {
      var open = closer.closest("dialog");
      if (open) open.close();
    }
  });
  // Small pieces the page scripts share.
  // An element with a class and text (text, never HTML).
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  // `fn` once things have been quiet for `ms`.
  function later(fn, ms) {
    var timer = null;
    return function () { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }
  // A moment (ms since 1970) in the page's language: the time today, else date and time.
  function when(ms) {
    var d = new Date(ms), now = new Date(), lang = document.documentElement.lang || undefined;
    var time = d.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
    return d.toDateString() === now.toDateString() ? time : d.toLocaleDateString(lang) + " " + time;
  }
  // The message of an API error answer, or null.
  function errorMessage(r) { return (r && r.body && r.body.error && r.body.error.message) || null; }
  window.tram = {
    csrf: csrf, api: api, upload: upload, showErrors: showErrors,
    el: el, later: later, when: when, errorMessage: errorMessage,
  };
})();
