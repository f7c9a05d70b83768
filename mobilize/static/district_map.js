// The board's map, drawn by ECharts (vendored, no tile server): the streets' approximate areas from
// /map/streets.geojson (derived from the communities' locations, labelled as approximate), this street's area
// highlighted, and its sites numbered as the site cards, coloured by the live fill of the orders under way.
// The sites are fetched again whenever the board's sites region is reloaded by a live event.
(function () {
  "use strict";

  var box = document.getElementById("district-map");
  if (!box || !window.echarts || !window.fetch) { return; }
  var chart = null;
  var areas = null;
  var slug = box.getAttribute("data-street");
  var labels = {
    approximate: box.getAttribute("data-label-approximate") || "",
    fill: box.getAttribute("data-label-fill") || "",
    arrived: box.getAttribute("data-label-arrived") || ""
  };

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(url + ": " + response.status); }
        return response.json();
      });
  }

  function fillColour(site) {
    if (!site.under_way || !site.capacity) { return "#8a94a6"; }
    var share = site.assigned / site.capacity;
    return share >= 1 ? "#1f8a4c" : share >= 0.5 ? "#d08a00" : "#c0392b";
  }

  // The box of this street's area and its sites, widened so that the neighbouring streets show around it: the
  // officer's street fills the map (the whole district stays a drag or a pinch away).
  function focus(own, sites) {
    var points = sites.map(function (site) { return [site.lon, site.lat]; });
    if (own) {
      var rings = own.geometry.type === "Polygon" ? [own.geometry.coordinates[0]]
        : own.geometry.coordinates.map(function (polygon) { return polygon[0]; });
      rings.forEach(function (ring) { points = points.concat(ring); });
    }
    if (!points.length) { return null; }
    var lons = points.map(function (p) { return p[0]; }), lats = points.map(function (p) { return p[1]; });
    var west = Math.min.apply(null, lons), east = Math.max.apply(null, lons);
    var south = Math.min.apply(null, lats), north = Math.max.apply(null, lats);
    var padLon = Math.max((east - west) * 0.35, 0.004), padLat = Math.max((north - south) * 0.35, 0.003);
    return [[west - padLon, north + padLat], [east + padLon, south - padLat]];
  }

  function draw(data) {
    var own = areas.features.filter(function (feature) { return feature.properties.street === slug; })[0];
    var view = focus(own, data.sites);
    var option = {
      animation: false,
      tooltip: { trigger: "item" },
      graphic: [{ type: "text", right: 8, bottom: 6, style: { text: labels.approximate, fill: "#5b6475",
                                                              font: "12px sans-serif" } }],
      geo: {
        map: "district", roam: true, nameProperty: "name", boundingCoords: view,
        label: { show: true, color: "#3d4657", fontSize: 11 },
        itemStyle: { areaColor: "#eef2f7", borderColor: "#9aa7bb", borderWidth: 1 },
        emphasis: { label: { show: true }, itemStyle: { areaColor: "#dfe8f3" } },
        regions: own ? [{ name: own.properties.name, itemStyle: { areaColor: "#cfe2fa", borderColor: "#2f6fbf",
                                                                  borderWidth: 2 } }] : [],
        tooltip: { show: true, formatter: function (p) { return window.echarts.format.encodeHTML(p.name) + " · " + labels.approximate; } }
      },
      series: [{
        type: "scatter", coordinateSystem: "geo", symbolSize: 18, z: 3,
        data: data.sites.map(function (site) {
          return { name: site.name, value: [site.lon, site.lat], site: site,
                   itemStyle: { color: fillColour(site), borderColor: "#fff", borderWidth: 1.5 } };
        }),
        label: { show: true, position: "inside", color: "#fff", fontWeight: "bold",
                 formatter: function (p) { return String(p.data.site.number); } },
        tooltip: { formatter: function (p) {
          var s = p.data.site;
          return s.number + ". " + window.echarts.format.encodeHTML(s.name) + "<br>" + labels.fill + " " + s.assigned + "/" + s.capacity +
            " · " + labels.arrived + " " + s.arrived;
        } }
      }]
    };
    chart.setOption(option, true);
    box.setAttribute("data-map-ready", String(data.sites.length));
  }

  function refreshSites() {
    return getJSON(box.getAttribute("data-sites")).then(draw);
  }

  getJSON(box.getAttribute("data-geojson")).then(function (collection) {
    areas = collection;
    window.echarts.registerMap("district", collection);
    chart = window.echarts.init(box, null, { renderer: "canvas" });
    window.addEventListener("resize", function () { chart.resize(); });
    box.setAttribute("data-areas", String(collection.features.length));
    return refreshSites();
  }).catch(function (error) {
    box.setAttribute("data-map-error", String(error));
  });

  var sites = document.getElementById("board-sites");
  if (sites) {
    new MutationObserver(function () { if (chart) { refreshSites().catch(function () {}); } })
      .observe(sites, { childList: true });
  }
})();
