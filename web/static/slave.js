// Slave detail page: four live charts (CPU, memory, network, disk) with the vendored
// Chart.js. The window starts from GET /api/v1/nodes/{id}/metrics (stored samples) and
// grows with the SSE stream /api/v1/nodes/{id}/metrics/stream (one `sample` event per
// heartbeat; an `end` event when the session ended). Labels come from the page
// (data-labels), so the charts speak the page's language.
"use strict";

(function () {
  var root = document.getElementById("charts");
  if (!root || typeof window.Chart === "undefined") return;
  var node = root.getAttribute("data-node");
  var L = {};
  try { L = JSON.parse(root.getAttribute("data-labels") || "{}"); } catch (e) { L = {}; }
  var WINDOW_MS = 15 * 60 * 1000;
  var COLORS = ["#2f5bd3", "#d3612f", "#17863a", "#8a3fd1", "#c2185b", "#00838f", "#6d4c41", "#5b6270"];
  var statusEl = document.getElementById("live-status");
  var countEl = document.getElementById("sample-count");
  var lastEl = document.getElementById("last-sample");
  var received = 0;
  var lastT = 0;

  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function clock(ms) {
    var d = new Date(ms);
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }
  function bytes(v) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"];
    var i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? v.toFixed(0) : v.toFixed(1)) + " " + units[i];
  }
  function pct(part, whole) { return whole > 0 ? (part * 100) / whole : 0; }
  function setText(id, text) {
    var el = document.getElementById(id);
    if (el) el.textContent = text;
  }
  function status(text, cls) {
    if (!statusEl) return;
    statusEl.textContent = text;
    statusEl.className = "live-status " + cls;
  }

  function chart(id, series, yTicks, yMax) {
    var canvas = document.getElementById(id);
    if (!canvas) return null;
    return new window.Chart(canvas, {
      type: "line",
      data: { datasets: series.map(function (label, i) { return dataset(label, i); }) },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        parsing: false,
        normalized: true,
        interaction: { mode: "nearest", axis: "x", intersect: false },
        scales: {
          x: { type: "linear", ticks: { callback: clock, maxTicksLimit: 6, maxRotation: 0 } },
          y: { beginAtZero: true, suggestedMax: yMax, ticks: { callback: yTicks, maxTicksLimit: 5 } },
        },
        plugins: {
          legend: { display: series.length > 1, labels: { boxWidth: 12 } },
          tooltip: {
            callbacks: {
              title: function (items) { return items.length ? clock(items[0].parsed.x) : ""; },
              label: function (item) { return item.dataset.label + ": " + yTicks(item.parsed.y); },
            },
          },
        },
      },
    });
  }
  function dataset(label, i) {
    var color = COLORS[i % COLORS.length];
    return { label: label, data: [], borderColor: color, backgroundColor: color,
             borderWidth: 1.5, pointRadius: 0, cubicInterpolationMode: "monotone" };
  }
  function percentTick(v) { return Number(v).toFixed(0) + " %"; }
  function rateTick(v) { return bytes(Number(v)) + "/s"; }

  var charts = {
    cpu: chart("chart-cpu", [L.cpu || "CPU"], percentTick, 100),
    memory: chart("chart-memory", [L.memory || "memory", L.swap || "swap"], percentTick, 100),
    network: chart("chart-network", [L.rx || "rx", L.tx || "tx"], rateTick, undefined),
    disk: chart("chart-disk", [], percentTick, 100),
  };
  var mounts = [];

  function push(c, index, x, y) {
    if (c && c.data.datasets[index]) c.data.datasets[index].data.push({ x: x, y: y });
  }
  function add(p) {
    if (!p || typeof p.t !== "number" || p.t <= lastT) return;
    lastT = p.t;
    push(charts.cpu, 0, p.t, p.cpu === null ? 0 : p.cpu);
    push(charts.memory, 0, p.t, pct(p.mem_used, p.mem_total));
    push(charts.memory, 1, p.t, pct(p.swap_used, p.swap_total));
    push(charts.network, 0, p.t, p.rx);
    push(charts.network, 1, p.t, p.tx);
    (p.disks || []).forEach(function (d) {
      var i = mounts.indexOf(d.mount);
      if (i < 0 && charts.disk) {
        i = mounts.length;
        mounts.push(d.mount);
        charts.disk.data.datasets.push(dataset(d.mount, i));
        charts.disk.options.plugins.legend.display = true;
      }
      push(charts.disk, i, p.t, pct(d.used, d.total));
    });
  }
  function trim() {
    var from = lastT - WINDOW_MS;
    Object.keys(charts).forEach(function (k) {
      var c = charts[k];
      if (!c) return;
      c.data.datasets.forEach(function (ds) {
        while (ds.data.length && ds.data[0].x < from) ds.data.shift();
      });
      c.update("none");
    });
  }
  function showNow(p) {
    setText("now-cpu", p.cpu === null ? "–" : p.cpu.toFixed(1) + " %");
    setText("now-mem", bytes(p.mem_used) + " / " + bytes(p.mem_total));
    setText("now-swap", bytes(p.swap_used) + " / " + bytes(p.swap_total));
    setText("now-tcp", String(p.tcp));
    if (lastEl) lastEl.textContent = clock(p.t);
  }

  function stream() {
    if (typeof window.EventSource === "undefined") return;
    var source = new window.EventSource("/api/v1/nodes/" + node + "/metrics/stream");
    source.addEventListener("open", function () { status(L.live || "Live", "on"); });
    source.addEventListener("sample", function (event) {
      var p;
      try { p = JSON.parse(event.data); } catch (e) { return; }
      add(p);
      trim();
      showNow(p);
      received += 1;
      if (countEl) countEl.textContent = String(received);
      root.setAttribute("data-samples", String(received));
      status(L.live || "Live", "on");
    });
    source.addEventListener("end", function () {
      source.close();
      status(L.ended || "Session ended", "off");
    });
    source.addEventListener("error", function () {
      if (source.readyState === window.EventSource.CLOSED) {
        status(L.ended || "Session ended", "off");
      } else {
        status(L.off || "Reconnecting", "off");
      }
    });
    // A page left behind must not hold a connection (browsers open few per server).
    window.addEventListener("pagehide", function () { source.close(); }, { once: true });
  }
  window.addEventListener("pageshow", function (event) { if (event.persisted) stream(); });

  fetch("/api/v1/nodes/" + node + "/metrics?points=600", { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : { points: [] }; })
    .then(function (history) {
      var points = history.points || [];
      points.forEach(add);
      trim();
      if (points.length) showNow(points[points.length - 1]);
      root.setAttribute("data-history", String(points.length));
    })
    .catch(function () { /* the stream still fills the charts */ })
    .then(stream);
})();
