// One container (/docker/{node}/containers/{id}): its details, the actions (start, stop,
// restart, pause, unpause, rename, kill, remove), its logs (tail N, follow), the processes
// inside (top) and live statistics drawn with the vendored Chart.js. Loaded before
// docker.js, which calls window.DockerContainer with the shared helpers.
"use strict";

window.DockerContainer = function (O, H) {
  var L = O.L, el = O.el, td = O.td, tr = O.tr, api = O.api, D = H.D, enc = encodeURIComponent;
  var id = O.root.getAttribute("data-target");
  var name = id;
  var base = "/containers/" + enc(id);
  var nameEl = document.getElementById("container-name");
  var stateEl = document.getElementById("container-state");
  var actions = document.getElementById("container-actions");

  function inspect() {
    return api("GET", D(base)).then(function (c) {
      name = c.name || id;
      if (nameEl) nameEl.textContent = name;
      var s = c.state || {};
      stateEl.textContent = s.status || "";
      stateEl.className = "badge state-" + (s.status || "unknown");
      O.root.setAttribute("data-state", s.status || "");
      O.root.setAttribute("data-started", s.started_at || "");
      var mounts = (c.mounts || []).map(function (m) {
        return m.source + " → " + m.destination + (m.read_only ? " (ro)" : "");
      }).join("\n");
      var nets = Object.keys(c.networks || {}).map(function (k) { return k + ": " + c.networks[k]; }).join("\n");
      var limits = [];
      if (c.memory_bytes) limits.push(O.bytes(c.memory_bytes));
      if (c.nano_cpus) limits.push((c.nano_cpus / 1e9).toFixed(2) + " CPU");
      O.facts(document.getElementById("container-facts"), [
        [L.c_id, H.shortId(c.id)], [L.c_image, c.image], [L.c_state, s.status + (s.health ? " (" + s.health + ")" : "")],
        [L.c_created, O.whenIso(c.created)], [L.c_started, O.whenIso(s.started_at)],
        [L.c_finished, s.running ? "" : O.whenIso(s.finished_at)], [L.c_exit, s.running ? "" : String(s.exit_code)],
        [L.c_cmd, [c.path].concat(c.args || []).join(" ")], [L.col_ports, H.ports(c.ports)],
        [L.c_restart, c.restart_policy + (c.restart_count ? " ×" + c.restart_count : "")],
        [L.c_networks, nets], [L.c_mounts, mounts], [L.c_limits, limits.join(", ")],
        [L.c_env, (c.env || []).join("\n")], [L.c_labels, H.labelsText(c.labels)],
      ]);
      var running = !!s.running, paused = !!s.paused;
      actions.querySelectorAll("button[data-action]").forEach(function (b) {
        var a = b.getAttribute("data-action");
        var off = (a === "start" && (running || paused)) || (a === "pause" && (!running || paused)) ||
          (a === "unpause" && !paused) || ((a === "stop" || a === "kill") && !running && !paused);
        b.disabled = off;
      });
      return c;
    });
  }

  actions.addEventListener("click", function (ev) {
    var b = ev.target.closest("button[data-action]");
    if (!b) return;
    var a = b.getAttribute("data-action");
    if (a === "rename") {
      var fresh = window.prompt(O.fmt(L.rename_prompt, { name: name }), name);
      if (!fresh || fresh === name) return;
      O.busy(b, api("POST", D(base + "/rename"), { name: fresh })).then(function () {
        window.location.assign(H.containerHref(fresh));
      }).catch(O.showError);
      return;
    }
    H.containerAction(id, name, a, b).then(function (did) {
      if (!did) return;
      if (a === "remove") { window.location.assign("/docker/" + enc(H.node)); return; }
      return inspect().then(function () { loadTop(); });
    }).catch(O.showError);
  });

  // ---- logs ----
  var logsForm = document.getElementById("logs-form");
  var logsOut = document.getElementById("logs-output");
  var logsStatus = document.getElementById("logs-status");
  var source = null;
  function appendEntries(entries) {
    var atEnd = logsOut.scrollTop + logsOut.clientHeight >= logsOut.scrollHeight - 8;
    entries.forEach(function (e) {
      logsOut.appendChild(el("span", "log-" + (e.stream || "stdout"), (e.timestamp ? e.timestamp + " " : "") + e.text));
    });
    var n = Number(logsOut.getAttribute("data-lines") || 0) + entries.length;
    logsOut.setAttribute("data-lines", String(n));
    if (atEnd || !source) logsOut.scrollTop = logsOut.scrollHeight;
  }
  function query() {
    var f = logsForm.elements;
    var tail = Math.max(1, Math.min(100000, parseInt(f.tail.value, 10) || 200));
    return "?tail=" + tail + "&timestamps=" + (f.timestamps.checked ? "true" : "false");
  }
  function loadLogs() {
    if (logsForm.elements.follow.checked) { follow(); return Promise.resolve(); }
    return api("GET", D(base + "/logs" + query())).then(function (batch) {
      logsOut.textContent = "";
      logsOut.setAttribute("data-lines", "0");
      var entries = (batch && batch.entries) || [];
      appendEntries(entries);
      if (!entries.length) logsOut.appendChild(el("span", "hint", L.logs_empty));
    });
  }
  function stopFollow() {
    if (source) source.close();
    source = null;
    logsStatus.hidden = true;
  }
  // Follows over the SSE stream: `logs` batches, then `end` (or an `error` event).
  function follow() {
    stopFollow();
    if (!logsForm.elements.follow.checked) return;
    logsOut.textContent = "";
    logsOut.setAttribute("data-lines", "0");
    logsStatus.hidden = false;
    source = new window.EventSource(D(base + "/logs" + query() + "&follow=true"));
    source.addEventListener("logs", function (ev) {
      try { appendEntries(JSON.parse(ev.data).entries || []); } catch (e) { /* skip a bad batch */ }
    });
    source.addEventListener("end", function () {
      stopFollow();
      logsForm.elements.follow.checked = false;
    });
    source.addEventListener("error", function (ev) {
      if (ev.data) {
        var msg = ev.data;
        try { msg = JSON.parse(ev.data).error || msg; } catch (e) { /* text */ }
        O.showError(new O.ApiError(502, msg));
      }
      stopFollow();
      logsForm.elements.follow.checked = false;
    });
  }
  logsForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    O.busy(logsForm.querySelector("button[type=submit]"), loadLogs()).catch(O.showError);
  });
  logsForm.elements.follow.addEventListener("change", function () {
    if (logsForm.elements.follow.checked) follow(); else stopFollow();
  });
  logsForm.elements.timestamps.addEventListener("change", function () { loadLogs().catch(O.showError); });

  // ---- top ----
  var topTable = document.querySelector("#top table");
  function loadTop() {
    return api("GET", D(base + "/top")).then(function (top) {
      var head = topTable.querySelector("thead tr");
      var body = topTable.querySelector("tbody");
      head.textContent = "";
      body.textContent = "";
      (top.titles || []).forEach(function (t) { head.appendChild(el("th", "", t)); });
      (top.processes || []).forEach(function (row) {
        body.appendChild(tr(row.map(function (c) { return td(c, "mono"); })));
      });
    }, function (err) {
      var body = topTable.querySelector("tbody");
      body.textContent = "";
      body.appendChild(tr([td(err.status === 409 ? "–" : err.message, "hint")]));
    });
  }
  document.getElementById("top-refresh").addEventListener("click", function (ev) {
    O.busy(ev.target, loadTop());
  });

  // ---- stats ----
  var charts = {};
  var statsStatus = document.getElementById("stats-status");
  function chart(canvasId, labels, tick) {
    var canvas = document.getElementById(canvasId);
    if (!canvas || typeof window.Chart === "undefined") return null;
    var colors = ["#2f5bd3", "#d3612f"];
    return new window.Chart(canvas, {
      type: "line",
      data: { datasets: labels.map(function (l, i) {
        return { label: l, data: [], borderColor: colors[i], backgroundColor: colors[i], borderWidth: 1.5, pointRadius: 0 };
      }) },
      options: { animation: false, responsive: true, maintainAspectRatio: false, parsing: false,
        scales: { x: { type: "linear", ticks: { maxTicksLimit: 5, callback: function (v) { return new Date(v).toLocaleTimeString(); } } },
          y: { beginAtZero: true, ticks: { maxTicksLimit: 5, callback: tick, precision: tick === pct ? undefined : 0 } } },
        plugins: { legend: { display: labels.length > 1, labels: { boxWidth: 12 } } } },
    });
  }
  function pct(v) { return Number(v).toFixed(Number(v) < 10 ? 1 : 0) + " %"; }
  charts.cpu = chart("chart-cpu", ["CPU"], pct);
  charts.mem = chart("chart-mem", [L.s_mem], function (v) { return O.bytes(v); });
  charts.net = chart("chart-net", ["rx", "tx"], function (v) { return O.bytes(v); });
  charts.block = chart("chart-block", ["read", "write"], function (v) { return O.bytes(v); });
  function push(c, values, t) {
    if (!c) return;
    values.forEach(function (v, i) {
      var d = c.data.datasets[i].data;
      d.push({ x: t, y: v });
      if (d.length > 150) d.shift();
    });
    c.update("none");
  }
  var samples = 0;
  function stats() {
    if (document.hidden) { window.setTimeout(stats, 2000); return; }
    api("GET", D(base + "/stats")).then(function (s) {
      var t = Date.now();
      samples += 1;
      O.root.setAttribute("data-stats", String(samples));
      statsStatus.className = "live-status on";
      O.facts(document.getElementById("stats-facts"), [
        [L.s_cpu, s.cpu_pct.toFixed(1) + " %" + (s.online_cpus ? " (" + s.online_cpus + " CPU)" : "")],
        [L.s_mem, O.bytes(s.mem_usage_bytes) + " / " + O.bytes(s.mem_limit_bytes) + " (" + s.mem_pct.toFixed(1) + " %)"],
        [L.s_net, O.bytes(s.net_rx_bytes) + " / " + O.bytes(s.net_tx_bytes)],
        [L.s_block, O.bytes(s.block_read_bytes) + " / " + O.bytes(s.block_write_bytes)],
        [L.s_pids, String(s.pids)],
      ]);
      push(charts.cpu, [s.cpu_pct], t);
      push(charts.mem, [s.mem_usage_bytes], t);
      push(charts.net, [s.net_rx_bytes, s.net_tx_bytes], t);
      push(charts.block, [s.block_read_bytes, s.block_write_bytes], t);
      window.setTimeout(stats, 2000);
    }, function (err) {
      statsStatus.className = "live-status off";
      statsStatus.textContent = err.status === 409 || err.status === 404 ? "–" : err.message;
      window.setTimeout(stats, 5000);
    });
  }

  inspect().then(function () {
    loadLogs().catch(O.showError);
    loadTop();
    stats();
  }).catch(O.showError);
};
