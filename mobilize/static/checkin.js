// The check-in list (/board/<street>/checkin): instant search by name or the phone's last digits, the sticky
// bulk bar's count, "select shown". The list region is reloaded by live.js on the street's events: the search
// and the ticked boxes are kept across reloads (a MutationObserver applies them again).
(function () {
  "use strict";

  var form = document.getElementById("checkin-form");
  var list = document.getElementById("checkin-list");
  var search = document.getElementById("checkin-search");
  if (!form || !list) { return; }
  var digitsAllowed = search && search.getAttribute("data-digits") === "yes";
  var chosen = new Set();
  var counter = form.querySelector("[data-selected-count]");
  var bulk = form.querySelector("[data-bulk-arrive]");

  function rows() { return Array.prototype.slice.call(list.querySelectorAll(".checkin-row")); }

  function matches(row, query) {
    if (!query) { return true; }
    if (/^\d+$/.test(query)) {
      var phone = row.getAttribute("data-phone") || "";
      return digitsAllowed && phone.slice(-query.length) === query;
    }
    return (row.getAttribute("data-name") || "").toLowerCase().indexOf(query.toLowerCase()) >= 0;
  }

  function apply() {
    var query = search ? search.value.trim() : "";
    var shown = 0;
    rows().forEach(function (row) {
      var visible = matches(row, query);
      row.hidden = !visible;
      if (visible) { shown += 1; }
      var box = row.querySelector("input[type=checkbox]");
      if (box) { box.checked = !box.disabled && chosen.has(box.value); }
    });
    // a site's heading shows only while one of its people does
    Array.prototype.slice.call(list.querySelectorAll(".checkin-group")).forEach(function (group) {
      var next = group.nextElementSibling, any = false;
      while (next && !next.classList.contains("checkin-group")) {
        if (next.classList.contains("checkin-row") && !next.hidden) { any = true; }
        next = next.nextElementSibling;
      }
      group.hidden = !any;
    });
    list.setAttribute("data-shown", String(shown));
    // the view tabs' numbers, from the list just reloaded
    var counts = list.querySelector(".checkin-list");
    Array.prototype.forEach.call(document.querySelectorAll(".checkin-views a[data-view]"), function (tab) {
      var value = counts && counts.getAttribute("data-count-" + tab.getAttribute("data-view"));
      var number = tab.querySelector("b");
      if (value !== null && value !== undefined && number) { number.textContent = value; }
    });
    count();
  }

  function count() {
    // forget people who are no longer waiting (arrived meanwhile, released...)
    var live = new Set();
    rows().forEach(function (row) {
      var box = row.querySelector("input[type=checkbox]");
      if (box && !box.disabled) { live.add(box.value); }
    });
    chosen.forEach(function (id) { if (!live.has(id)) { chosen.delete(id); } });
    if (counter) { counter.textContent = String(chosen.size); }
    if (bulk) { bulk.disabled = chosen.size === 0; }
  }

  list.addEventListener("change", function (event) {
    var box = event.target;
    if (!box || box.type !== "checkbox") { return; }
    if (box.checked) { chosen.add(box.value); } else { chosen.delete(box.value); }
    count();
  });

  form.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-select]") : null;
    if (!button) { return; }
    var all = button.getAttribute("data-select") === "shown";
    if (!all) { chosen.clear(); }
    rows().forEach(function (row) {
      var box = row.querySelector("input[type=checkbox]");
      if (all && box && !box.disabled && !row.hidden) { chosen.add(box.value); }
    });
    apply();
  });

  form.addEventListener("submit", function (event) {
    // the bulk button sends the ticked boxes; a ticked person hidden by the search is sent too (the count says
    // so); nothing ticked: nothing to send
    var submitter = event.submitter;
    if (submitter && submitter.hasAttribute("data-bulk-arrive") && chosen.size === 0) { event.preventDefault(); }
  });

  if (search) {
    search.addEventListener("input", apply);
    search.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); apply(); } // filtering is live: no page reload
    });
  }

  new MutationObserver(apply).observe(list, { childList: true });
  apply();
})();
