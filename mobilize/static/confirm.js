// Say it before sending it: the order page's action links and forms marked data-confirm-dialog open their
// confirmation step (GET /command/orders/<id>/confirm/<action>) in a <dialog> instead of a page of its own.
// Without this script (or without <dialog>) they simply open that page: the same preview, the same confirm form.
// Nothing is sent by opening the step; only its confirm button POSTs the action, with the CSRF token.
(function () {
  "use strict";

  var dialog = document.getElementById("confirm-dialog");
  if (!dialog || typeof dialog.showModal !== "function" || !window.fetch || !window.URLSearchParams) { return; }
  var body = dialog.querySelector("[data-confirm-body]");
  var opener = null;

  function message(text) {
    var p = document.createElement("p");
    p.className = "muted";
    p.textContent = text;
    body.replaceChildren(p);
  }

  function open(url) {
    message(dialog.getAttribute("data-loading") || "…");
    dialog.setAttribute("data-state", "loading");
    if (!dialog.open) { dialog.showModal(); }
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } }).then(function (response) {
      // a lost login, or an answer that is not the step's fragment: go to the page itself
      if (response.redirected || response.status === 401 || response.status === 403 || response.status >= 500 &&
          response.status !== 503) {
        window.location.assign(url);
        return null;
      }
      return response.text();
    }).then(function (html) {
      if (html === null) { return; }
      body.innerHTML = html;
      dialog.setAttribute("data-state", "ready");
      var first = body.querySelector("[data-confirm-submit]") || body.querySelector("[data-confirm-close]");
      if (first) { first.focus(); }
    }).catch(function () {
      message(dialog.getAttribute("data-failed") || "!");
      dialog.setAttribute("data-state", "failed");
    });
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-confirm-dialog]");
    if (link) {
      event.preventDefault();
      opener = link;
      open(link.href);
      return;
    }
    var close = event.target.closest("[data-confirm-close]");
    if (close && dialog.contains(close)) {
      event.preventDefault();
      dialog.close();
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches("form[data-confirm-dialog]")) { // a GET form (top up, cancel): its fields go in the query
      event.preventDefault();
      opener = event.submitter || form;
      var query = new URLSearchParams(new FormData(form)).toString();
      open(form.action + (query ? "?" + query : ""));
    } else if (dialog.contains(form)) { // the confirm button: one click sends once
      var button = form.querySelector("[data-confirm-submit]");
      if (button) { setTimeout(function () { button.disabled = true; }, 0); }
      dialog.setAttribute("data-state", "sending");
    }
  });

  dialog.addEventListener("click", function (event) { // a click on the backdrop closes it
    if (event.target === dialog) { dialog.close(); }
  });
  dialog.addEventListener("close", function () {
    if (dialog.getAttribute("data-state") !== "sending") { body.replaceChildren(); }
    if (opener && typeof opener.focus === "function") { opener.focus(); }
  });
})();
