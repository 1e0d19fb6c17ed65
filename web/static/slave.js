// Slave detail page: four charts (CPU, memory, network, disk) with the vendored Chart.js
// over a chosen time range (15 minutes ... 30 days, or custom from/to). A range is loaded
// from GET /api/v1/nodes/{id}/metrics?from=&to=&points= (the master picks the tier: raw
// samples, or 1-minute / 1-hour roll-ups whose min and max show in the tooltips); while the
// range ends now, the SSE stream /api/v1/nodes/{id}/metrics/stream (one `sample` event per
// heartbeat; an `end` event when the session ended) appends live samples and the oldest
// fall off. Labels come from the page (data-labels), so the charts speak its language.
"use strict";

(function () {
  var root = document.getElementById("charts");
  if (!root || typeof window.Chart === "undefined") return;
  var node = root.getAttribute("data-node");
  var L = {};
  try { L = JSON.parse(root.getAttribute("data-labels") || "{}"); } catch (e) { L = {}; }
  var POINTS = 300;
  var DAY_MS = 24 * 3600 * 1000;
  var COLORS = ["#2f5bd3", "#d3612f", "#17863a", "#8a3fd1", "#c2185b", "#00838f", "#6d4c41", "#5b6270"];
  var statusEl = document.getElementById("live-status");
  var countEl = document.getElementById("sample-count");
  var lastEl = document.getElementById("last-sample");
  var tierEl = document.getElementById("range-tier");
  var errorEl = document.getElementById("range-error");
  var received = 0;
  var lastT = 0;
  // The range shown: a preset span ending now (live), or fixed from/to.
  var range = { span: 15 * 60 * 1000 };
  var loading = 0;

  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function clock(ms) {
    var d = new Date(ms);
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }
  function stamp(ms) {
    var d = new Date(ms);
    return pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  function spanMs() { return range.span ? range.span : range.to - range.from; }
  function tick(ms) { return spanMs() > DAY_MS ? stamp(ms) : clock(ms); }
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
  function live() { return !!range.span || range.to >= Date.now() - 5000; }

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
          x: { type: "linear", ticks: { callback: tick, maxTicksLimit: 6, maxRotation: 0 } },
          y: { beginAtZero: true, suggestedMax: yMax, ticks: { callback: yTicks, maxTicksLimit: 5 } },
        },
        plugins: {
          legend: { display: series.length > 1, labels: { boxWidth: 12 } },
          tooltip: {
            callbacks: {
              title: function (items) { return items.length ? stamp(items[0].parsed.x) + ":" + pad(new Date(items[0].parsed.x).getSeconds()) : ""; },
              label: function (item) {
                var raw = item.raw || {};
                var text = item.dataset.label + ": " + yTicks(item.parsed.y);
                if (typeof raw.min === "number" && typeof raw.max === "number") {
                  text += " (" + (L.min || "min") + " " + yTicks(raw.min) + ", " + (L.max || "max") + " " + yTicks(raw.max) + ")";
                }
                return text;
              },
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

  function each(fn) {
    Object.keys(charts).forEach(function (k) { if (charts[k]) fn(charts[k]); });
  }
  function clear() {
    each(function (c) { c.data.datasets.forEach(function (ds) { ds.data = []; }); });
    if (charts.disk) charts.disk.data.datasets = [];
    mounts = [];
    lastT = 0;
  }
  // `v` is a number (a live sample) or a stat {avg, min?, max?} (a stored point).
  function push(c, index, x, v) {
    if (!c || !c.data.datasets[index] || v === null || v === undefined) return;
    if (typeof v === "number") {
      c.data.datasets[index].data.push({ x: x, y: v });
    } else if (typeof v.avg === "number") {
      c.data.datasets[index].data.push({ x: x, y: v.avg, min: v.min, max: v.max });
    }
  }
  function disk(mount, x, v) {
    var i = mounts.indexOf(mount);
    if (i < 0 && charts.disk) {
      i = mounts.length;
      mounts.push(mount);
      charts.disk.data.datasets.push(dataset(mount, i));
      charts.disk.options.plugins.legend.display = true;
    }
    push(charts.disk, i, x, v);
  }
  // A stored point of any tier.
  function addStored(p) {
    if (!p || typeof p.t !== "number" || p.t <= lastT) return;
    lastT = p.t;
    push(charts.cpu, 0, p.t, p.cpu_total_pct);
    push(charts.memory, 0, p.t, p.mem_used_pct);
    push(charts.memory, 1, p.t, p.swap_used_pct);
    push(charts.network, 0, p.t, p.net_rx_bytes_per_sec);
    push(charts.network, 1, p.t, p.net_tx_bytes_per_sec);
    Object.keys(p.disk_used_pct || {}).forEach(function (m) { disk(m, p.t, p.disk_used_pct[m]); });
  }
  // A live sample (ChartPoint of the stream).
  function addLive(p) {
    if (!p || typeof p.t !== "number" || p.t <= lastT) return;
    lastT = p.t;
    push(charts.cpu, 0, p.t, p.cpu === null ? 0 : p.cpu);
    push(charts.memory, 0, p.t, pct(p.mem_used, p.mem_total));
    push(charts.memory, 1, p.t, pct(p.swap_used, p.swap_total));
    push(charts.network, 0, p.t, p.rx);
    push(charts.network, 1, p.t, p.tx);
    (p.disks || []).forEach(function (d) { disk(d.mount, p.t, pct(d.used, d.total)); });
  }
  function trim() {
    if (range.span && lastT) {
      var from = Math.max(lastT, Date.now()) - range.span;
      each(function (c) {
        c.data.datasets.forEach(function (ds) {
          while (ds.data.length && ds.data[0].x < from) ds.data.shift();
        });
      });
    }
    each(function (c) { c.update("none"); });
  }
  function showNow(p) {
    setText("now-cpu", p.cpu === null ? "–" : p.cpu.toFixed(1) + " %");
    setText("now-mem", bytes(p.mem_used) + " / " + bytes(p.mem_total));
    setText("now-swap", bytes(p.swap_used) + " / " + bytes(p.swap_total));
    setText("now-tcp", String(p.tcp));
    if (lastEl) lastEl.textContent = clock(p.t);
  }

  function load() {
    var to = range.span ? Date.now() : range.to;
    var from = range.span ? to - range.span : range.from;
    var ticket = ++loading;
    var url = "/api/v1/nodes/" + node + "/metrics?from=" + Math.floor(from) + "&to=" + Math.floor(to) + "&points=" + POINTS;
    root.setAttribute("data-loading", "true");
    return fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { points: [] }; })
      .then(function (history) {
        if (ticket !== loading) return;
        clear();
        var points = history.points || [];
        points.forEach(addStored);
        trim();
        var tiers = L.tiers || {};
        if (tierEl) tierEl.textContent = tiers[history.tier] || history.tier || "–";
        root.setAttribute("data-tier", history.tier || "");
        root.setAttribute("data-history", String(points.length));
      })
      .catch(function () { /* the stream still fills the charts */ })
      .then(function () { if (ticket === loading) root.removeAttribute("data-loading"); });
  }

  function stream() {
    if (typeof window.EventSource === "undefined") return;
    var source = new window.EventSource("/api/v1/nodes/" + node + "/metrics/stream");
    source.addEventListener("open", function () { status(L.live || "Live", "on"); });
    source.addEventListener("sample", function (event) {
      var p;
      try { p = JSON.parse(event.data); } catch (e) { return; }
      showNow(p);
      received += 1;
      if (countEl) countEl.textContent = String(received);
      root.setAttribute("data-samples", String(received));
      status(L.live || "Live", "on");
      if (live()) {
        addLive(p);
        trim();
      }
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

  var presets = Array.prototype.slice.call(document.querySelectorAll("button.range"));
  function press(button) {
    presets.forEach(function (b) { b.setAttribute("aria-pressed", b === button ? "true" : "false"); });
  }
  presets.forEach(function (button) {
    button.addEventListener("click", function () {
      var span = Number(button.getAttribute("data-range"));
      if (!(span > 0)) return;
      range = { span: span };
      press(button);
      if (errorEl) errorEl.textContent = "";
      load();
    });
  });
  var custom = document.getElementById("range-custom");
  if (custom) {
    custom.addEventListener("submit", function (event) {
      event.preventDefault();
      var from = new Date(document.getElementById("range-from").value).getTime();
      var to = new Date(document.getElementById("range-to").value).getTime();
      if (!(from < to)) {
        if (errorEl) errorEl.textContent = L.range_err || "From must be before To.";
        return;
      }
      if (errorEl) errorEl.textContent = "";
      range = { from: from, to: to };
      press(null);
      load();
    });
  }

  load().then(stream);
})();
