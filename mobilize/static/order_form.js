// The order form (issue 17, item 1): fill capacities from each site's usual capacity (the sites shown, or one
// street), filter the sites by type and street, keep a running total of places, and ask the server for the
// invitations the launch would send and their SMS in each language (POST /command/orders/estimate: the form as
// it is, nothing saved). Without this script the form still works: every box is typed by hand.
(function () {
  "use strict";

  var form = document.querySelector("form.order-form");
  if (!form) { return; }
  var estimate = document.getElementById("order-estimate");
  var DEBOUNCE_MS = 500;
  var timer = null;
  var inFlight = null;
  var latest = 0;

  function all(selector, root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(selector));
  }

  function capacityInputs(root) { return all("input[data-usual]", root); }

  function rowShown(row) { return !row.hidden; }

  function filterValue(name) {
    var select = form.querySelector('[data-filter="' + name + '"]');
    return select ? select.value : "";
  }

  function applyFilters() {
    var kind = filterValue("kind");
    var street = filterValue("street");
    all("details.street-sites", form).forEach(function (details) {
      var streetMatches = !street || details.getAttribute("data-street") === street;
      var shown = 0;
      all("tr[data-kind]", details).forEach(function (row) {
        row.hidden = !(streetMatches && (!kind || row.getAttribute("data-kind") === kind));
        if (!row.hidden) { shown += 1; }
      });
      details.hidden = shown === 0;
      if ((kind || street) && shown > 0) { details.open = true; }
    });
    updateTotals();
  }

  function setRows(rows, fill) {
    rows.forEach(function (row) {
      capacityInputs(row).forEach(function (input) { input.value = fill ? input.getAttribute("data-usual") : ""; });
    });
    changed();
  }

  function shownRows(root) {
    return all("details.street-sites:not([hidden]) tr[data-kind]", root).filter(rowShown);
  }

  function number(input) {
    var value = parseInt(input.value, 10);
    return isNaN(value) || value < 0 ? 0 : value;
  }

  function updateTotals() {
    var places = 0;
    var hiddenPlaces = 0;
    var sites = 0;
    all("details.street-sites", form).forEach(function (details) {
      var streetPlaces = 0;
      all("tr[data-kind]", details).forEach(function (row) {
        var rowPlaces = capacityInputs(row).reduce(function (sum, input) { return sum + number(input); }, 0);
        if (rowPlaces > 0) { sites += 1; }
        streetPlaces += rowPlaces;
        if (row.hidden || details.hidden) { hiddenPlaces += rowPlaces; }
      });
      var label = details.querySelector("[data-street-total]");
      if (label) { label.textContent = streetPlaces ? "· " + streetPlaces : ""; }
      places += streetPlaces;
    });
    form.querySelector('[data-total="places"]').textContent = String(places);
    form.querySelector('[data-total="sites"]').textContent = String(sites);
    var note = form.querySelector('[data-total="hidden-note"]');
    note.textContent = hiddenPlaces ? note.getAttribute("data-label").replace("%(count)s", String(hiddenPlaces)) : "";
    return places;
  }

  function changed() {
    var places = updateTotals();
    if (timer) { clearTimeout(timer); }
    if (places === 0) {
      form.querySelector('[data-total="invitations"]').textContent = "–";
      return;
    }
    timer = setTimeout(askEstimate, DEBOUNCE_MS);
  }

  function askEstimate() {
    timer = null;
    var ticket = ++latest;
    if (inFlight && inFlight.abort) { inFlight.abort(); }
    inFlight = window.AbortController ? new AbortController() : null;
    estimate.setAttribute("aria-busy", "true");
    var body = new FormData(form);
    fetch(estimate.getAttribute("data-estimate-url"), {
      method: "POST", body: body, credentials: "same-origin", headers: { "X-Requested-With": "fetch" },
      signal: inFlight ? inFlight.signal : undefined
    }).then(function (response) {
      return response.text().then(function (html) { return { ok: response.ok, status: response.status, html: html }; });
    }).then(function (result) {
      if (ticket !== latest) { return; }
      estimate.removeAttribute("aria-busy");
      if (result.status !== 200 && result.status !== 422) {
        estimate.textContent = estimate.getAttribute("data-failed");
        return;
      }
      estimate.innerHTML = result.html;
      estimate.setAttribute("data-estimated", String(Date.now())); // the browser tests wait on this
      var stats = estimate.querySelector("[data-estimate-invitations]");
      form.querySelector('[data-total="invitations"]').textContent =
        stats ? stats.getAttribute("data-estimate-invitations") : "–";
    }).catch(function (error) {
      if (error && error.name === "AbortError") { return; }
      estimate.removeAttribute("aria-busy");
      estimate.textContent = estimate.getAttribute("data-failed");
    });
  }

  all("[data-needs-script]", form).forEach(function (element) { element.hidden = false; });
  all("[data-filter]", form).forEach(function (select) { select.addEventListener("change", applyFilters); });
  form.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-fill], button[data-clear]");
    if (!button) { return; }
    var fill = button.hasAttribute("data-fill");
    var scope = button.getAttribute(fill ? "data-fill" : "data-clear");
    if (scope === "street") {
      var details = button.closest("details.street-sites");
      setRows(all("tr[data-kind]", details).filter(rowShown), fill);
    } else {
      setRows(shownRows(form), fill);
    }
  });
  form.addEventListener("input", function (event) {
    if (event.target.matches("input[data-usual]")) { changed(); return; }
    if (event.target.matches("input, select")) { if (updateTotals() > 0) { changed(); } }
  });
  form.addEventListener("change", function (event) {
    if (event.target.matches("input[type=checkbox], select:not([data-filter])")) { changed(); }
  });
  applyFilters();
  if (updateTotals() > 0) { changed(); }
})();
