// Host pages of one slave: processes (server-side filter, sort and paging; details and
// signals), ports in use, the environment profile, the hosts file editor; and the tasks
// page of Records. API under /api/v1/nodes/{node}/ and /api/v1/tasks (ops-common.js).
"use strict";

(function () {
  var O = window.Ops;
  if (!O) return;
  var L = O.L, el = O.el, td = O.td, tr = O.tr, api = O.api;
  var page = O.root.getAttribute("data-page");
  var PER = 50;

  // ---- processes ----
  function processesPage() {
    var form = document.getElementById("process-filter");
    var section = document.getElementById("processes");
    var body = section.querySelector("tbody");
    var status = form.querySelector(".list-status");
    var offset = 0;
    function load() {
      var f = form.elements;
      var q = new URLSearchParams({ sort: f.sort.value, offset: String(offset), limit: String(PER) });
      if (f.filter.value.trim()) q.set("filter", f.filter.value.trim());
      if (f.user.value.trim()) q.set("user", f.user.value.trim());
      status.textContent = L.loading;
      return api("GET", O.nodePath("/processes?" + q.toString())).then(function (p) {
        status.textContent = "";
        body.textContent = "";
        var rows = p.processes || [];
        if (!rows.length) {
          var cell = td(L.no_rows, "empty-row");
          cell.colSpan = 9;
          body.appendChild(tr([cell]));
        }
        rows.forEach(function (r) { body.appendChild(row(r)); });
        document.getElementById("cpu-window").textContent =
          p.cpu_window_ms ? O.fmt(L.cpu_window, { s: (p.cpu_window_ms / 1000).toFixed(1) }) : "";
        var total = p.total || 0;
        var prev = section.querySelector(".page-prev"), next = section.querySelector(".page-next");
        prev.hidden = offset <= 0;
        next.hidden = offset + rows.length >= total;
        section.querySelector(".page-status").textContent = total
          ? O.fmt(L.page_status, { from: offset + 1, to: offset + rows.length, total: total }) : "";
        section.setAttribute("data-total", String(total));
      });
    }
    function row(p) {
      var actions = el("td", "row-actions");
      actions.appendChild(O.button(L.details, "small", function (b) { O.busy(b, details(p.pid)).catch(O.showError); }));
      var r = tr([td(String(p.pid), "num"), td(p.user), el("td", "wrap", "", [el("strong", "", p.name), el("div", "hint mono", p.command)]),
        td(p.cpu_pct.toFixed(1) + " %", "num"), td(O.bytes(p.rss_bytes), "num"), td(String(p.threads), "num"),
        td(p.state), td(O.when(p.start_time_ms)), actions]);
      r.setAttribute("data-pid", String(p.pid));
      return r;
    }
    var panel = document.getElementById("process-details");
    var current = null;
    function details(pid) {
      return api("GET", O.nodePath("/processes/" + pid)).then(function (d) {
        current = d.info;
        panel.querySelector(".detail-pid").textContent = d.info.pid + " " + d.info.name;
        var socks = (d.sockets || []).map(function (s) { return s.proto + " " + s.state + " " + s.local + (s.remote ? " → " + s.remote : ""); });
        O.facts(panel.querySelector(".detail-facts"), [
          [L.col_command, d.info.command], [L.col_user, d.info.user + " (" + d.info.uid + ")"],
          [L.col_ppid, String(d.info.ppid)], [L.f_exe, d.exe], [L.f_cwd, d.cwd], [L.f_args, (d.args || []).join(" ")],
          [L.f_nice, String(d.nice)], [L.col_rss, O.bytes(d.info.rss_bytes)], [L.f_vsize, O.bytes(d.vsize_bytes)],
          [L.f_fds, d.open_fds === null || d.open_fds === undefined ? "" : String(d.open_fds)],
          [L.f_children, (d.children || []).join(", ")], [L.f_sockets, socks.join("\n")],
          [L.col_start, O.when(d.info.start_time_ms)],
        ]);
        panel.hidden = false;
        panel.scrollIntoView({ block: "nearest" });
      });
    }
    panel.querySelector(".detail-close").addEventListener("click", function () { panel.hidden = true; });
    var signalForm = document.getElementById("signal-form");
    signalForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!current) return;
      var sig = Number(signalForm.elements.signal.value);
      var vars = { signal: signalForm.elements.signal.selectedOptions[0].textContent, pid: current.pid, name: current.name };
      if (!window.confirm(O.fmt(L.confirm_signal, vars))) return;
      var call = api("POST", O.nodePath("/processes/" + current.pid + "/signal"),
        { signal: sig, force: signalForm.elements.force.checked });
      O.busy(signalForm.querySelector("button[type=submit]"), call).then(function () {
        O.notice(O.fmt(L.signalled, vars));
        panel.hidden = true;
        return load();
      }).catch(O.showError);
    });
    form.addEventListener("submit", function (ev) { ev.preventDefault(); offset = 0; load().catch(O.showError); });
    form.elements.sort.addEventListener("change", function () { offset = 0; load().catch(O.showError); });
    section.querySelector(".page-prev").addEventListener("click", function () { offset = Math.max(0, offset - PER); load().catch(O.showError); });
    section.querySelector(".page-next").addEventListener("click", function () { offset += PER; load().catch(O.showError); });
    load().catch(O.showError);
  }

  // ---- ports in use ----
  function portsPage() {
    var section = document.getElementById("ports");
    var listening = document.getElementById("ports-listening");
    var established = document.getElementById("ports-established");
    var list = new O.List(section, {
      per: PER,
      text: function (s) { return [s.proto, s.state, s.local, s.remote, s.pid, s.command].join(" "); },
      render: function (s) {
        return tr([td(s.proto), td(s.state), td(s.local, "mono"), td(s.remote, "mono"),
          td(s.pid ? s.pid + " " + (s.command || "") : "–"), td(String(s.uid), "num")]);
      },
      reload: load,
    });
    function load() {
      list.loading();
      var q = "?listening=" + listening.checked + "&established=" + established.checked;
      return api("GET", O.nodePath("/sockets" + q)).then(function (rows) { list.set(Array.isArray(rows) ? rows : []); });
    }
    [listening, established].forEach(function (c) { c.addEventListener("change", function () { load().catch(O.showError); }); });
    load().catch(O.showError);
  }

  // ---- environment ----
  function envPage() {
    var section = document.getElementById("env-inherited");
    var list = new O.List(section, {
      per: PER,
      text: function (v) { return v.key + " " + (v.redacted ? "" : v.value); },
      render: function (v) { return tr([td(v.key, "mono"), td(v.redacted ? L.redacted : v.value, v.redacted ? "hint" : "mono wrap")]); },
      reload: load,
    });
    var setBody = document.getElementById("env-set");
    var form = document.getElementById("env-form");
    function editRow(v) {
      var key = el("input", "mono");
      key.value = v.key || "";
      key.setAttribute("aria-label", L.col_key);
      var value = el("input", "mono");
      value.value = v.redacted ? "" : v.value || "";
      value.placeholder = v.redacted ? L.redacted : "";
      value.setAttribute("aria-label", L.col_value);
      var r = tr([el("td", "", "", [key]), el("td", "", "", [value])]);
      r.redacted = !!v.redacted;
      var remove = el("td", "row-actions", "", [O.button(L.env_unset, "small", function () { r.remove(); })]);
      r.appendChild(remove);
      return r;
    }
    function show(profile) {
      list.set(profile.inherited || []);
      setBody.textContent = "";
      (profile.set || []).forEach(function (v) { setBody.appendChild(editRow(v)); });
      form.elements.unset.value = (profile.unset || []).join("\n");
    }
    function load() {
      list.loading();
      return api("GET", O.nodePath("/env")).then(show);
    }
    document.getElementById("env-add").addEventListener("click", function () {
      var r = editRow({});
      setBody.appendChild(r);
      r.querySelector("input").focus();
    });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var set = [];
      setBody.querySelectorAll("tr").forEach(function (r) {
        var inputs = r.querySelectorAll("input");
        var key = inputs[0].value.trim();
        if (!key) return;
        var keep = r.redacted && inputs[1].value === "";
        set.push({ key: key, value: keep ? "<redacted>" : inputs[1].value, redacted: keep });
      });
      var body = { set: set, unset: O.lines(form.elements.unset.value) };
      O.busy(form.querySelector("button[type=submit]"), api("PUT", O.nodePath("/env"), body))
        .then(function (profile) { if (profile) show(profile); O.notice(L.env_saved); }).catch(O.showError);
    });
    load().catch(O.showError);
  }

  // ---- hosts file ----
  function hostsPage() {
    var form = document.getElementById("hosts-form");
    var text = document.getElementById("hosts-content");
    var restore = document.getElementById("hosts-restore");
    var entries = document.querySelector("#hosts-entries tbody");
    var path = "/etc/hosts";
    function show(h) {
      path = h.path || path;
      document.getElementById("hosts-path").textContent = path;
      text.value = h.content || "";
      document.getElementById("hosts-previous").textContent = h.previous_saved_ms
        ? O.fmt(L.hosts_previous, { at: O.when(h.previous_saved_ms) }) : L.hosts_no_previous;
      restore.disabled = !h.previous_saved_ms;
      entries.textContent = "";
      (h.entries || []).forEach(function (e) {
        entries.appendChild(tr([td(String(e.line), "num"), td(e.ip, "mono"), td((e.names || []).join(" "), "mono")]));
      });
    }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!window.confirm(O.fmt(L.confirm_hosts_save, { path: path }))) return;
      O.busy(form.querySelector("button[type=submit]"), api("PUT", O.nodePath("/hosts"), { content: text.value }))
        .then(function (h) { if (h) show(h); O.notice(L.hosts_saved); }).catch(O.showError);
    });
    restore.addEventListener("click", function () {
      if (!window.confirm(O.fmt(L.confirm_hosts_restore, { path: path }))) return;
      O.busy(restore, api("POST", O.nodePath("/hosts/restore"), {}))
        .then(function (h) { if (h) show(h); O.notice(L.hosts_restored); }).catch(O.showError);
    });
    api("GET", O.nodePath("/hosts")).then(show).catch(O.showError);
  }

  // ---- tasks (Records) ----
  function tasksPage() {
    var section = document.getElementById("tasks");
    var list = new O.List(section, {
      per: PER,
      text: function (t) { return [t.id, t.action, t.target, t.state, t.user].join(" "); },
      render: function (t) {
        var pct = O.taskPercent(t);
        var bar = el("progress");
        bar.max = 100;
        if (pct !== null) bar.value = pct;
        var result = t.error ? t.error.message : t.result ? JSON.stringify(t.result) : "";
        var slave = el("a", "", t.target);
        slave.href = "/slaves/" + encodeURIComponent(t.node);
        return tr([td(String(t.id), "num"), td(t.action, "mono"), el("td", "", "", [slave]),
          el("td", "", "", [el("span", "badge task-" + t.state, L["task_" + t.state] || t.state)]),
          el("td", "", "", [bar, el("div", "hint", O.taskText(t))]), td(O.when(t.created_ms)),
          td(result.length > 200 ? result.slice(0, 200) + "…" : result, "wrap mono")]);
      },
      reload: load,
    });
    function load() {
      return api("GET", "/api/v1/tasks?limit=500").then(function (rows) {
        list.set(Array.isArray(rows) ? rows : (rows && rows.tasks) || []);
      });
    }
    function poll() {
      (function tick() {
        var next = function () { window.setTimeout(tick, 2000); };
        if (document.hidden) { next(); return; }
        load().then(next, function (err) { O.showError(err); window.setTimeout(tick, 10000); });
      })();
    }
    // Live over the task event stream; the poll only when the stream fails.
    O.taskEvents(function (t) { O.upsertTask(list, t); },
      function () { load().catch(O.showError); }, poll);
  }

  if (page === "processes") processesPage();
  else if (page === "ports") portsPage();
  else if (page === "env") envPage();
  else if (page === "hosts") hostsPage();
  else if (page === "tasks") tasksPage();
})();
