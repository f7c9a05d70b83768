// Live updates for the pages: one EventSource on the page's channel (<main data-live-channel>); regions marked
// data-live-fragment="URL" data-live-on="event names" are fetched again when one of their events arrives.
// Events are notifications, not data: the server renders the fragment for this user's role.
(function () {
  "use strict";

  var main = document.querySelector("[data-live-channel]");
  if (!main || !window.EventSource || !window.fetch) { return; }

  var channel = main.getAttribute("data-live-channel");
  var status = document.getElementById("live-status");
  var lastEventId = null;
  var retryDelay = 1000;
  var waiting = new Set();
  var timer = null;
  var DEBOUNCE_MS = 250; // a burst of events (a wave of SMS) costs one reload per region

  function regions() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-live-fragment]"));
  }

  function eventNames() {
    var names = new Set();
    regions().forEach(function (region) {
      (region.getAttribute("data-live-on") || "").split(/\s+/).forEach(function (name) {
        if (name) { names.add(name); }
      });
    });
    return names;
  }

  function setState(state) {
    document.documentElement.setAttribute("data-live-state", state); // the browser tests wait on this
    if (!status) { return; }
    status.hidden = false;
    status.className = "live-status " + state;
    status.textContent = status.getAttribute("data-label-" + state) || state;
  }

  function schedule(name) {
    regions().forEach(function (region) {
      var wanted = (region.getAttribute("data-live-on") || "").split(/\s+/);
      if (name === null || wanted.indexOf(name) >= 0) { waiting.add(region); }
    });
    if (!timer) { timer = setTimeout(flush, DEBOUNCE_MS); }
  }

  function flush() {
    timer = null;
    var batch = Array.from(waiting);
    waiting.clear();
    batch.forEach(reload);
  }

  function reload(region) {
    fetch(region.getAttribute("data-live-fragment"), {
      credentials: "same-origin", headers: { "X-Requested-With": "fetch" }
    }).then(function (response) {
      if (response.redirected || response.status === 401) { window.location.reload(); return null; }
      return response.ok ? response.text() : null;
    }).then(function (html) {
      if (html === null) { return; }
      region.innerHTML = html;
      region.setAttribute("data-live-updated", String(Date.now()));
    }).catch(function () { /* the next event or reconnect tries again */ });
  }

  function remember(event) {
    if (event.lastEventId) { lastEventId = event.lastEventId; }
  }

  function connect() {
    var url = "/events/" + encodeURIComponent(channel);
    // EventSource resends Last-Event-ID itself when it reconnects; after a refused connection we open a new
    // one and pass the id in the query instead.
    if (lastEventId) { url += "?last_event_id=" + encodeURIComponent(lastEventId); }
    var source = new EventSource(url);
    source.addEventListener("open", function () { setState("live"); retryDelay = 1000; });
    source.addEventListener("ready", remember);
    source.addEventListener("reset", function (event) { remember(event); schedule(null); });
    source.addEventListener("logout", function () { source.close(); window.location.reload(); });
    eventNames().forEach(function (name) {
      source.addEventListener(name, function (event) { remember(event); schedule(name); });
    });
    source.onerror = function () {
      setState("offline");
      if (source.readyState === EventSource.CLOSED) { // refused (503, 401...): retry with a growing delay
        setTimeout(connect, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 30000);
      }
    };
  }

  setState("offline");
  connect();
})();
