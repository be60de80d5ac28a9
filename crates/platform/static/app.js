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
  window.tram = { csrf: function () {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  } };
})();
