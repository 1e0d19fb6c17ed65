// Shared helpers of the host-operation and Docker pages (host.js, docker.js).
//
// The page frame is rendered by the server; these scripts call the operations REST API
// (/api/v1/nodes/{node}/...) with the session cookie and the X-CSRF-Token header, and write
// every value with textContent (never innerHTML), so names such as
// "<script>alert(1)</script>" show as text. Errors appear in #ops-alert as a sentence, not
// as raw JSON. Labels come from the page (data-labels), in the page's language.
"use strict";

(function () {
  var root = document.getElementById("ops");
  if (!root) return;
  var L = {};
  try { L = JSON.parse(root.getAttribute("data-labels") || "{}"); } catch (e) { L = {}; }
  var alertBox = document.getElementById("ops-alert");
  var noticeBox = document.getElementById("ops-notice");
  var noticeTimer = 0;

  function fmt(text, vars) {
    return String(text || "").replace(/\{(\w+)\}/g, function (m, k) {
      return vars && vars[k] !== undefined && vars[k] !== null ? String(vars[k]) : m;
    });
  }

  // An element with a class and text; children appended from `kids` (elements or text).
  function el(tag, cls, text, kids) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null && text !== "") e.textContent = String(text);
    (kids || []).forEach(function (k) {
      if (k === null || k === undefined) return;
      e.appendChild(typeof k === "string" ? document.createTextNode(k) : k);
    });
    return e;
  }

  function button(text, cls, onClick) {
    var b = el("button", cls || "small", text);
    b.type = "button";
    b.addEventListener("click", function (ev) { onClick(b, ev); });
    return b;
  }

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // An API error: a sentence for a person.
  function ApiError(status, message, field) {
    this.status = status;
    this.message = message;
    this.field = field || null;
  }

  // fetch with the session cookie and the CSRF header. Resolves the parsed JSON (or null
  // for 204); rejects with an ApiError.
  function api(method, path, body, raw) {
    var headers = { "X-CSRF-Token": csrf(), Accept: "application/json" };
    var init = { method: method, credentials: "same-origin", headers: headers, cache: "no-store" };
    if (raw !== undefined) {
      init.body = raw;
      headers["Content-Type"] = "application/octet-stream";
    } else if (body !== undefined && body !== null) {
      init.body = JSON.stringify(body);
      headers["Content-Type"] = "application/json";
    }
    return fetch(path, init).then(function (response) {
      if (response.status === 401 || (response.redirected && /\/(login|register)$/.test(new URL(response.url).pathname))) {
        throw new ApiError(401, L.err_session);
      }
      var type = response.headers.get("content-type") || "";
      var parsed = type.indexOf("application/json") >= 0
        ? response.json().catch(function () { return null; })
        : response.text().then(function () { return null; });
      return parsed.then(function (data) {
        if (response.ok) return data;
        var message = data && typeof data.error === "string" ? data.error : response.status + " " + response.statusText;
        if (data && data.field && message.indexOf(data.field) < 0) message = data.field + ": " + message;
        throw new ApiError(response.status, message, data && data.field);
      });
    }, function () {
      throw new ApiError(0, L.err_network);
    });
  }

  function nodePath(rest) {
    return "/api/v1/nodes/" + encodeURIComponent(root.getAttribute("data-node")) + rest;
  }

  // Shows an error; a success notice still on screen goes, so the page never says both
  // "saved" and "refused" at once.
  function showError(err) {
    if (noticeBox) noticeBox.hidden = true;
    window.clearTimeout(noticeTimer);
    if (!alertBox) return;
    var text = err && err.message ? err.message : String(err);
    alertBox.textContent = "";
    if (err && err.status !== 0 && err.status !== 401) alertBox.appendChild(el("strong", "", L.err_prefix + " "));
    alertBox.appendChild(document.createTextNode(text));
    if (err && err.status) alertBox.appendChild(el("span", "hint", " (HTTP " + err.status + ")"));
    alertBox.hidden = false;
    alertBox.scrollIntoView({ block: "nearest" });
  }

  function clearError() { if (alertBox) alertBox.hidden = true; }

  function notice(text) {
    if (!noticeBox) return;
    clearError();
    noticeBox.textContent = text;
    noticeBox.hidden = false;
    window.clearTimeout(noticeTimer);
    noticeTimer = window.setTimeout(function () { noticeBox.hidden = true; }, 8000);
  }

  // Disables `b` and shows the working label while `promise` runs.
  function busy(b, promise) {
    if (!b) return promise;
    var text = b.textContent;
    b.disabled = true;
    b.classList.add("busy");
    b.textContent = L.working;
    function done() { b.disabled = false; b.classList.remove("busy"); b.textContent = text; }
    return promise.then(function (v) { done(); return v; }, function (e) { done(); throw e; });
  }

  function bytes(v) {
    v = Number(v) || 0;
    var units = ["B", "KiB", "MiB", "GiB", "TiB"];
    var i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? v.toFixed(0) : v.toFixed(1)) + " " + units[i];
  }

  function pad(n) { return n < 10 ? "0" + n : String(n); }
  // A local date and time from Unix milliseconds.
  function when(ms) {
    if (!ms) return "–";
    var d = new Date(ms);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }
  function whenIso(text) {
    var t = Date.parse(text || "");
    return isNaN(t) || t <= 0 ? "–" : when(t);
  }

  // Lines of a textarea, trimmed, without empty ones.
  function lines(text) {
    return String(text || "").split("\n").map(function (s) { return s.trim(); })
      .filter(function (s) { return s.length > 0; });
  }

  // A searchable, paginated table. `section` holds .list-q, .list-refresh, tbody and the
  // pager; `render(row)` makes a <tr>; `text(row)` is what the search matches.
  function List(section, opts) {
    this.section = section;
    this.opts = opts;
    this.rows = [];
    this.page = 1;
    this.per = opts.per || 25;
    this.body = section.querySelector("tbody");
    this.q = section.querySelector(".list-q");
    this.status = section.querySelector(".list-status");
    var self = this;
    if (this.q) this.q.addEventListener("input", function () { self.page = 1; self.draw(); });
    var refresh = section.querySelector(".list-refresh");
    if (refresh && opts.reload) refresh.addEventListener("click", function () { busy(refresh, opts.reload()).catch(showError); });
    var prev = section.querySelector(".page-prev");
    var next = section.querySelector(".page-next");
    if (prev) prev.addEventListener("click", function () { self.page -= 1; self.draw(); });
    if (next) next.addEventListener("click", function () { self.page += 1; self.draw(); });
  }
  List.prototype.set = function (rows) { this.rows = rows || []; this.draw(); };
  List.prototype.loading = function () {
    if (this.status) this.status.textContent = L.loading;
  };
  List.prototype.draw = function () {
    var term = this.q ? this.q.value.trim().toLowerCase() : "";
    var text = this.opts.text;
    var shown = this.rows.filter(function (r) { return !term || text(r).toLowerCase().indexOf(term) >= 0; });
    var pages = Math.max(1, Math.ceil(shown.length / this.per));
    this.page = Math.min(Math.max(1, this.page), pages);
    var from = (this.page - 1) * this.per;
    var slice = shown.slice(from, from + this.per);
    this.body.textContent = "";
    var cols = this.section.querySelectorAll("thead th").length || 1;
    if (!slice.length) {
      var td = el("td", "empty-row", L.no_rows);
      td.colSpan = cols;
      this.body.appendChild(el("tr", "", "", [td]));
    }
    var render = this.opts.render;
    var body = this.body;
    slice.forEach(function (r) { body.appendChild(render(r)); });
    pager(this.section, this.page, pages, from, slice.length, shown.length);
    if (this.status) this.status.textContent = "";
  };

  function pager(section, page, pages, from, count, total) {
    var prev = section.querySelector(".page-prev");
    var next = section.querySelector(".page-next");
    var status = section.querySelector(".page-status");
    if (prev) prev.hidden = page <= 1;
    if (next) next.hidden = page >= pages;
    if (status) status.textContent = total ? fmt(L.page_status, { from: from + 1, to: from + count, total: total }) : "";
  }

  function td(text, cls) { return el("td", cls || "", text); }
  function tr(cells) { return el("tr", "", "", cells); }
  function facts(tbody, pairs) {
    tbody.textContent = "";
    pairs.forEach(function (p) {
      if (p[1] === undefined || p[1] === null || p[1] === "") return;
      tbody.appendChild(tr([el("th", "", p[0]), td(p[1])]));
    });
  }

  // Shows a progress area: `pct` 0..100 or null (unknown), and a text.
  function progress(box, pct, text) {
    if (!box) return;
    box.hidden = false;
    var bar = box.querySelector("progress");
    if (bar) {
      if (pct === null || pct === undefined) bar.removeAttribute("value");
      else bar.value = Math.max(0, Math.min(100, pct));
    }
    var t = box.querySelector(".progress-text");
    if (t) t.textContent = text || "";
  }

  // Percent done of a task record, or null when unknown.
  function taskPercent(task) {
    var p = task.progress || {};
    if (p.upload_bytes) return (p.uploaded_bytes * 100) / p.upload_bytes;
    var cur = 0, total = 0;
    Object.keys(p.layers || {}).forEach(function (k) {
      var l = p.layers[k];
      if (/complete|already exists/i.test(l.status)) { cur += 1; total += 1; }
      else if (l.total > 0) { cur += l.current / l.total; total += 1; }
      else total += 1;
    });
    if (task.state === "succeeded") return 100;
    if (total) return (cur * 100) / total;
    // Unknown while it runs (an animated bar); a task that ended without figures is not
    // "still working".
    return task.state === "queued" || task.state === "running" ? null : 0;
  }
  function taskText(task) {
    var p = task.progress || {};
    var state = L["task_" + task.state] || task.state;
    var parts = [state];
    if (p.step) parts.push(p.step);
    if (p.status) parts.push(p.status);
    var n = Object.keys(p.layers || {}).length;
    if (n) parts.push(n + " layers");
    if (p.upload_bytes) parts.push(bytes(p.uploaded_bytes) + " / " + bytes(p.upload_bytes));
    return parts.join(" · ");
  }

  // Follows GET /api/v1/tasks/events (Server-Sent Events): `onTask(task)` for every task
  // change, `onResync()` when the stream opens and when it reports lost updates (refetch
  // then: changes before the stream opened are not replayed). When the stream fails
  // (error, or `end` after the session ended) it is closed and `onFail()` is called once:
  // the caller falls back to polling. Returns a function that closes the stream.
  function taskEvents(onTask, onResync, onFail) {
    var closed = false;
    function fail() {
      if (closed) return;
      closed = true;
      if (source) source.close();
      root.setAttribute("data-task-stream", "off");
      onFail();
    }
    if (!window.EventSource) { window.setTimeout(fail, 0); return function () { closed = true; }; }
    var source = new EventSource("/api/v1/tasks/events");
    source.addEventListener("open", function () {
      if (closed) return;
      root.setAttribute("data-task-stream", "on");
      onResync();
    });
    source.addEventListener("resync", function () { if (!closed) onResync(); });
    source.addEventListener("task", function (event) {
      if (closed) return;
      var task;
      try { task = JSON.parse(event.data); } catch (e) { return; }
      onTask(task);
    });
    source.addEventListener("end", fail);
    source.addEventListener("error", fail);
    // A page left behind must not hold a connection (browsers open few per server); if it
    // comes back from the back-forward cache, the caller's polling takes over.
    window.addEventListener("pagehide", fail);
    return function () { closed = true; source.close(); };
  }

  // Puts `task` into the rows of `list` (a List of tasks, newest first): replaces the row
  // with its id, or adds it in id order (at most 500 rows).
  function upsertTask(list, task) {
    var rows = list.rows.slice();
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].id === task.id) { rows[i] = task; list.set(rows); return; }
    }
    rows.push(task);
    rows.sort(function (a, b) { return b.id - a.id; });
    if (rows.length > 500) rows.length = 500;
    list.set(rows);
  }

  // Follows a task until it ends, over the task event stream (polling every 0.7 s if the
  // stream fails); `onUpdate(task)` on every reading. Resolves the succeeded task, rejects
  // with an ApiError for a failed or timed-out one.
  function followTask(href, onUpdate) {
    var id = Number(String(href).split("/").pop());
    return new Promise(function (resolve, reject) {
      var done = false;
      var stop = function () {};
      function end() { done = true; stop(); }
      function seen(task) {
        if (done || !task) return;
        if (onUpdate) onUpdate(task);
        if (task.state === "succeeded") { end(); resolve(task); return; }
        if (task.state === "failed" || task.state === "timed_out") {
          end();
          var e = task.error || {};
          reject(new ApiError(e.status || 502, e.message || (L["task_" + task.state] || task.state), e.field));
        }
      }
      function fetchOnce() {
        return api("GET", href).then(seen, function (err) { if (!done) { end(); reject(err); } });
      }
      function poll() {
        if (done) return;
        fetchOnce().then(function () { if (!done) window.setTimeout(poll, 700); });
      }
      stop = taskEvents(function (task) { if (task.id === id) seen(task); }, fetchOnce, poll);
    });
  }

  window.Ops = {
    root: root, L: L, fmt: fmt, el: el, button: button, api: api, nodePath: nodePath,
    showError: showError, clearError: clearError, notice: notice, busy: busy, bytes: bytes,
    when: when, whenIso: whenIso, lines: lines, List: List, td: td, tr: tr, facts: facts,
    progress: progress, taskPercent: taskPercent, taskText: taskText, followTask: followTask,
    taskEvents: taskEvents, upsertTask: upsertTask,
    ApiError: ApiError,
  };
})();
