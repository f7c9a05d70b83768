// An order's funnel chart, drawn with the vendored Apache ECharts (static/vendor/echarts) from the numbers the
// server put in <div class="funnel" data-funnel="{...}">: no inline script (the page's CSP forbids it). The
// fragment is reloaded by live.js on order and message events; a MutationObserver draws the new numbers.
(function () {
  "use strict";

  var COLORS = {
    invited: "#5470c6", delivered: "#3ba272", failed: "#d9534f", answered: "#73c0de", accepted: "#2e8b57",
    declined: "#9a9a9a", placed: "#fac858", confirmed: "#ee9b2f", arrived: "#1f6f43"
  };
  var chart = null;
  var chartElement = null;
  var drawnOnce = false; // only the page's first drawing grows the bars from zero

  function draw() {
    var holder = document.querySelector(".funnel[data-funnel]");
    var element = holder && holder.querySelector(".funnel-chart");
    if (!element || !window.echarts) { return; }
    var data;
    try { data = JSON.parse(holder.getAttribute("data-funnel")); } catch (error) { return; }
    if (chart && chartElement !== element) { chart.dispose(); chart = null; }
    if (chart === null) { chart = window.echarts.init(element, null, { renderer: "canvas" }); chartElement = element; }
    var stages = data.stages.slice().reverse();
    var labels = data.labels.slice().reverse();
    var values = data.total.slice().reverse();
    chart.setOption({
      // Not on a live redraw: the fragment (and the chart with it) is replaced several times a second while
      // answers come in, and bars growing from zero each time never reached their length.
      animation: !drawnOnce,
      grid: { left: 8, right: 48, top: 8, bottom: 8, containLabel: true },
      tooltip: { trigger: "item" },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: labels, axisTick: { show: false } },
      series: [{
        type: "bar", name: holder.getAttribute("data-series") || "",
        data: values.map(function (value, index) {
          return { value: value, itemStyle: { color: COLORS[stages[index]] || "#5470c6" } };
        }),
        label: { show: true, position: "right" }, barMaxWidth: 26
      }]
    }, { notMerge: false });
    drawnOnce = true;
    element.setAttribute("data-rendered", String(Date.now())); // the browser tests wait on this
    element.setAttribute("data-values", values.slice().reverse().join(","));
  }

  function watch() {
    var region = document.getElementById("order-funnel");
    if (!region || !window.MutationObserver) { return; }
    new MutationObserver(function () { draw(); }).observe(region, { childList: true });
  }

  window.addEventListener("resize", function () { if (chart) { chart.resize(); } });
  document.addEventListener("DOMContentLoaded", function () { draw(); watch(); });
})();
