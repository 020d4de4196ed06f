// Draws each dashboard series over days with the vendored uPlot; the tables below show the same
// figures. Colours come from the CSS variables of static/css/pulse.css (light, dark, or the theme
// set on <html data-theme>), and the charts are drawn again when those change.
(function () {
  "use strict";
  if (typeof window.uPlot !== "function") return;
  var plots = [];

  function colour(el, name, fallback) {
    var value = window.getComputedStyle(el).getPropertyValue(name).trim();
    return value || fallback;
  }

  function palette(el) {
    return {
      series: [1, 2, 3, 4].map(function (n) { return colour(el, "--pulse-" + n, "#0b5cad"); }),
      axis: colour(el, "--pulse-axis", "#5a5f66"),
      grid: colour(el, "--pulse-grid", "#d8dad3")
    };
  }

  function draw(el) {
    var data;
    try { data = JSON.parse(el.getAttribute("data-chart")); } catch (e) { return null; }
    if (!data || !data.labels || !data.labels.length) return null;
    // Shown, and named as one image, only once there is a chart (the table below has the
    // same figures); what uPlot draws inside is hidden from assistive technology.
    el.hidden = false;
    el.setAttribute("role", "img");
    el.setAttribute("aria-label", el.getAttribute("data-label") || "");
    var colours = palette(el);
    var labels = data.labels;
    var xs = labels.map(function (_, i) { return i; });
    var columns = [xs].concat(data.series.map(function (s) { return s.values; }));
    // The legend names the day under the pointer in full ("7. Dez. 2026"), the axis briefly.
    var titles = data.titles || labels;
    var series = [{ label: data.x || "", value: function (u, v) { return v == null ? "" : titles[v]; } }].concat(
      data.series.map(function (s, i) {
        var stroke = colours.series[i % colours.series.length];
        return { label: s.label, stroke: stroke, width: 2, points: { show: labels.length < 40, fill: stroke } };
      })
    );
    function axis(extra) {
      var base = {
        stroke: colours.axis,
        grid: { stroke: colours.grid, width: 1 },
        ticks: { stroke: colours.grid, width: 1 }
      };
      for (var key in extra) base[key] = extra[key];
      return base;
    }
    var opts = {
      width: Math.max(280, el.clientWidth - 16),
      height: 220,
      scales: { x: { time: false } },
      series: series,
      axes: [
        axis({
          values: function (u, splits) {
            return splits.map(function (v) { return Number.isInteger(v) && labels[v] !== undefined ? labels[v] : ""; });
          }
        }),
        axis({})
      ]
    };
    el.textContent = "";
    // The colours it was drawn in (the browser tests read them).
    el.setAttribute("data-drawn", colours.series[0] + " " + colours.axis);
    var plot = new window.uPlot(opts, columns, el);
    plot.root.setAttribute("aria-hidden", "true");
    return { el: el, plot: plot };
  }

  function drawAll() {
    plots.forEach(function (p) { p.plot.destroy(); });
    plots = [];
    document.querySelectorAll(".pulse-chart[data-chart]").forEach(function (el) {
      var drawn = draw(el);
      if (drawn) plots.push(drawn);
    });
  }

  drawAll();

  var resizeTimer;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      plots.forEach(function (p) {
        p.plot.setSize({ width: Math.max(280, p.el.clientWidth - 16), height: 220 });
      });
    }, 150);
  });
  // Light and dark: the system's setting, or a theme switch that sets data-theme on <html>.
  var scheme = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  if (scheme && scheme.addEventListener) scheme.addEventListener("change", drawAll);
  if (window.MutationObserver) {
    new MutationObserver(drawAll).observe(document.documentElement, {
      attributes: true, attributeFilter: ["data-theme", "class"]
    });
  }
})();
