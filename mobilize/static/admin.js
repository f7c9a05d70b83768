// The admin pages: copy a new API token (shown once) to the clipboard, and reload the system page's status part
// every few seconds. Served from this site (no inline script: the pages' content security policy forbids it).
(function () {
  "use strict";

  // --- copy buttons: <button data-copy="#selector" data-copied="label"> ------------------------------------
  document.querySelectorAll("[data-select-on-focus]").forEach(function (field) {
    field.addEventListener("focus", function () { field.select(); });
  });
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = document.querySelector(button.getAttribute("data-copy"));
      if (!field) { return; }
      var done = function () {
        button.textContent = button.getAttribute("data-copied") || "✓";
        button.setAttribute("data-state", "copied");
      };
      field.focus();
      field.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () {
          if (document.execCommand("copy")) { done(); }
        });
      } else if (document.execCommand("copy")) { // plain http on another host: no Clipboard API there
        done();
      }
    });
  });

  // --- the system page: <div data-refresh="URL" data-refresh-seconds="5"> ------------------------------------
  var region = document.querySelector("[data-refresh]");
  if (!region || !window.fetch) { return; }
  var seconds = parseInt(region.getAttribute("data-refresh-seconds"), 10) || 5;

  function reload() {
    // a keyboard user on a retry button keeps their place: no reload while focus is inside the region
    if (region.contains(document.activeElement) && document.activeElement !== document.body) {
      setTimeout(reload, seconds * 1000);
      return;
    }
    fetch(region.getAttribute("data-refresh"), {
      credentials: "same-origin", headers: { "X-Requested-With": "fetch" }
    }).then(function (response) {
      if (response.redirected || response.status === 401 || response.status === 403) {
        window.location.reload();
        return null;
      }
      return response.ok ? response.text() : null;
    }).then(function (html) {
      if (html !== null) {
        region.innerHTML = html;
        region.setAttribute("data-refreshed", String(Date.now())); // the browser tests wait on this
      }
    }).catch(function () { /* the next round tries again */ }).then(function () {
      setTimeout(reload, seconds * 1000);
    });
  }

  setTimeout(reload, seconds * 1000);
})();
