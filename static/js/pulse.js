// Draws each dashboard series with the vendored uPlot; the tables below show the same figures.
(function () {
  "use strict";
  if (typeof window.uPlot !== "function") return;
  var COLOURS = ["#0b5cad", "#c2410c", "#15803d", "#7e22ce"];

  function draw(el) {
    var data;
    try { data = JSON.parse(el.getAttribute("data-chart")); } catch (e) { return; }
    if (!data || !data.labels || !data.labels.length) return;
    var labels = data.labels;
    var xs = labels.map(function (_, i) { return i; });
    var columns = [xs].concat(data.series.map(function (s) { return s.values; }));
    var series = [{ label: "", value: function (u, v) { return v == null ? "" : labels[v]; } }].concat(
      data.series.map(function (s, i) {
        return { label: s.label, stroke: COLOURS[i % COLOURS.length], width: 2, points: { show: labels.length < 40 } };
      })
    );
    var width = Math.max(280, el.clientWidth - 16);
    var opts = {
      width: width,
      height: 220,
      scales: { x: { time: false } },
      series: series,
      axes: [
        {
          values: function (u, splits) {
            return splits.map(function (v) { return Number.isInteger(v) && labels[v] !== undefined ? labels[v] : ""; });
          }
        },
        {}
      ]
    };
    el.textContent = "";
    var plot = new window.uPlot(opts, columns, el);
    var resizeTimer;
    window.addEventListener("resize", function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () {
        plot.setSize({ width: Math.max(280, el.clientWidth - 16), height: 220 });
      }, 150);
    });
  }

  document.querySelectorAll(".pulse-chart[data-chart]").forEach(draw);
})();
