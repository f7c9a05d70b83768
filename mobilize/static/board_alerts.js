// Alerts of a street's pages (the board, the check-in list): the region #board-alerts is reloaded by live.js
// on the street's events; each alert (data-alert-id) not seen before plays a short sound (Web Audio API, no
// file) and is counted in the tab's title, "(2) ...", until the officer presses "Seen".
(function () {
  "use strict";

  var region = document.getElementById("board-alerts");
  if (!region) { return; }
  var ack = document.querySelector(".alert-ack");
  var ackButton = document.querySelector("[data-alerts-seen]");
  var baseTitle = document.title;
  var known = new Set(ids()); // shown when the page opened: not news
  var unseen = new Set(); // ids of alerts not acknowledged yet
  var audio = null;
  var root = document.documentElement;

  function ids() {
    return Array.prototype.map.call(region.querySelectorAll("[data-alert-id]"), function (item) {
      return item.getAttribute("data-alert-id");
    });
  }

  function context() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return null; }
    if (!audio) { audio = new Context(); }
    return audio;
  }

  // Browsers let a page make sound only after the person touched it: wake the audio on the first touch.
  ["pointerdown", "keydown"].forEach(function (name) {
    document.addEventListener(name, function () {
      var ctx = context();
      if (ctx && ctx.state === "suspended") { ctx.resume(); }
    }, { once: true, capture: true });
  });

  function beep() {
    var ctx = context();
    if (!ctx) { return; }
    if (ctx.state === "suspended") { ctx.resume(); }
    [0, 0.22].forEach(function (offset, index) {
      var tone = ctx.createOscillator();
      var gain = ctx.createGain();
      tone.type = "sine";
      tone.frequency.value = index ? 660 : 880;
      gain.gain.setValueAtTime(0.0001, ctx.currentTime + offset);
      gain.gain.exponentialRampToValueAtTime(0.3, ctx.currentTime + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + offset + 0.18);
      tone.connect(gain).connect(ctx.destination);
      tone.start(ctx.currentTime + offset);
      tone.stop(ctx.currentTime + offset + 0.2);
    });
    root.setAttribute("data-alert-sounds", String(Number(root.getAttribute("data-alert-sounds") || 0) + 1));
    root.setAttribute("data-audio-state", ctx.state);
  }

  function show() {
    document.title = unseen.size ? "(" + unseen.size + ") " + baseTitle : baseTitle;
    root.setAttribute("data-alerts-unseen", String(unseen.size));
    if (ack) { ack.hidden = unseen.size === 0; }
    Array.prototype.forEach.call(region.querySelectorAll("[data-alert-id]"), function (item) {
      item.classList.toggle("new", unseen.has(item.getAttribute("data-alert-id")));
    });
  }

  new MutationObserver(function () {
    var fresh = ids().filter(function (id) { return !known.has(id); });
    fresh.forEach(function (id) { known.add(id); unseen.add(id); });
    show();
    if (fresh.length) { beep(); }
  }).observe(region, { childList: true });

  if (ackButton) {
    ackButton.addEventListener("click", function () {
      unseen.clear();
      show();
    });
  }
  show();
})();
