// mlops-ui: draws the metric and drift charts (uPlot) from the server's series.
// The server already bounds each series (min, max and last of every bucket), so this file
// only maps x (step, wall time, relative time), log-scales y and smooths: no data work.
"use strict";
(function () {
  var COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  var cache = {};
  var plots = [];

  function settings() {
    var x = document.getElementById("xmode");
    var log = document.getElementById("logy");
    var smooth = document.getElementById("smooth");
    return {
      x: x ? x.value : "step",
      log: log ? log.checked : false,
      smooth: smooth ? Number(smooth.value) / 100 : 0
    };
  }

  function load(url) {
    if (!cache[url]) {
      cache[url] = fetch(url, { credentials: "same-origin" }).then(function (r) {
        if (!r.ok) { throw new Error(url + ": HTTP " + r.status); }
        return r.json();
      });
    }
    return cache[url];
  }

  // One series as [xs, ys], sorted by x, with the chosen x, scale and smoothing.
  function table(s, opt) {
    var n = s.step.length, rows = [], t0 = n ? Math.min.apply(null, s.time.slice(0, 5000)) : 0;
    for (var i = 0; i < n; i++) {
      var x = opt.x === "time" ? s.time[i] / 1000 : opt.x === "relative" ? (s.time[i] - t0) / 1000 : s.step[i];
      rows.push([x, s.value[i]]);
    }
    if (opt.x !== "step") { rows.sort(function (a, b) { return a[0] - b[0]; }); }
    var xs = [], ys = [], ema = 0, w = 0;
    for (var j = 0; j < rows.length; j++) {
      var y = rows[j][1];
      if (y !== null && opt.smooth > 0) {
        ema = opt.smooth * ema + (1 - opt.smooth) * y;
        w = opt.smooth * w + (1 - opt.smooth);
        y = ema / w;
      }
      if (opt.log && y !== null && y <= 0) { y = null; }
      if (xs.length && xs[xs.length - 1] === rows[j][0]) { ys[ys.length - 1] = y; continue; }
      xs.push(rows[j][0]);
      ys.push(y);
    }
    return [xs, ys];
  }

  // The run page's min / max / points cells of a metric, from its chart data.
  function fillStats(s) {
    var fmt = function (v) {
      if (v === null || v === undefined) { return ""; }
      var a = Math.abs(v);
      return (a !== 0 && (a >= 1e6 || a < 1e-4)) ? v.toExponential(4) : String(Number(v.toPrecision(6)));
    };
    document.querySelectorAll("td[data-stat]").forEach(function (td) {
      if (td.dataset.key !== s.key) { return; }
      var stat = td.dataset.stat;
      td.textContent = stat === "total" ? String(s.total) : fmt(s[stat]);
    });
  }

  function draw(el) {
    var urls = el.dataset.src.split(" ");
    var labels = (el.dataset.labels || "").split("|");
    var opt = settings();
    Promise.all(urls.map(load)).then(function (all) {
      if (all.length === 1) { fillStats(all[0]); }
      var tables = all.map(function (s) { return table(s, opt); });
      var data = tables.length === 1 ? tables[0] : uPlot.join(tables);
      var series = [{ label: opt.x }];
      // Dots where there are few points (a single value has no line to draw).
      var few = data[0].length <= 50;
      all.forEach(function (s, i) {
        var color = COLORS[i % COLORS.length];
        series.push({ label: labels[i] || s.key, stroke: color, width: 1.5, spanGaps: true,
                      points: { show: few, size: 6, fill: color } });
      });
      el.innerHTML = "";
      var plot = new uPlot({
        width: Math.max(320, el.clientWidth - 8), height: 240, title: el.dataset.title || "",
        scales: { x: { time: opt.x === "time" }, y: { distr: opt.log ? 3 : 1 } },
        series: series
      }, data, el);
      plots.push(plot);
      el.dataset.series = series.slice(1).map(function (s) { return s.label; }).join("|");
      el.dataset.points = String(data[0].length);
      el.dataset.total = String(all.reduce(function (t, s) { return t + s.total; }, 0));
      el.classList.add("drawn");
    }).catch(function (e) {
      el.textContent = "chart failed: " + e.message;
      el.classList.add("failed");
    });
  }

  // A drift chart: one y series per window (x = window end time) and its threshold line.
  function driftPlot(el, d, label, ys, threshold, title) {
    var xs = d.time.map(function (t) { return t / 1000; });
    var data = [xs, ys];
    var series = [{ label: "window end" },
                  { label: label, stroke: COLORS[0], width: 1.5, spanGaps: true,
                    points: { show: xs.length <= 50, size: 6, fill: COLORS[0] } }];
    if (threshold !== null && threshold !== undefined) {
      data.push(xs.map(function () { return threshold; }));
      series.push({ label: "threshold", stroke: COLORS[1], width: 1, dash: [6, 4],
                    points: { show: false } });
    }
    el.innerHTML = "";
    plots.push(new uPlot({
      width: Math.max(320, el.clientWidth - 8), height: 240, title: title,
      scales: { x: { time: true } }, series: series
    }, data, el));
    el.dataset.series = series.slice(1).map(function (s) { return s.label; }).join("|");
    el.dataset.points = String(xs.length);
    el.classList.add("drawn");
  }

  // The drift page: the share chart, and one chart per feature added to the container.
  function drawDrift(el) {
    load(el.dataset.drift).then(function (d) {
      if (el.dataset.series === "share") {
        driftPlot(el, d, "drift share", d.share, d.drift_share, el.dataset.title || "");
        return;
      }
      el.innerHTML = "";
      d.features.forEach(function (f) {
        var div = document.createElement("div");
        div.className = "chart drift";
        div.dataset.feature = f.name;
        el.appendChild(div);
        driftPlot(div, d, f.name, f.scores, f.threshold,
                  f.name + " (" + f.test + " " + f.score + ")");
      });
      el.dataset.features = d.features.map(function (f) { return f.name; }).join("|");
      el.classList.add("drawn");
    }).catch(function (e) {
      el.textContent = "chart failed: " + e.message;
      el.classList.add("failed");
    });
  }

  function redraw() {
    plots.forEach(function (p) { p.destroy(); });
    plots = [];
    document.querySelectorAll(".chart[data-src]").forEach(draw);
    document.querySelectorAll("[data-drift]").forEach(drawDrift);
  }

  document.addEventListener("DOMContentLoaded", function () {
    ["xmode", "logy", "smooth"].forEach(function (id) {
      var el = document.getElementById(id);
      if (el) { el.addEventListener("change", redraw); }
    });
    redraw();
  });
})();
