// Project pages. The CSP forbids inline scripts, so this file carries:
//   - the timeline of a project page (<table id="timeline" data-events="URL"
//     data-labels="JSON">): it follows the project's Server-Sent Events (`timeline`: the
//     whole list, at the start and after a lag; `event`: one new entry; `end`: the
//     session ended) and, on each event, refreshes the page's live region at once so the
//     status and the deploy progress follow the rollout;
//   - on the forms (data-error-field="NAME"), marking and focusing the field the master
//     refused.
"use strict";

(function () {
  function markError() {
    document.querySelectorAll("form[data-error-field]").forEach(function (form) {
      var name = form.getAttribute("data-error-field");
      if (!name) return;
      var field = form.querySelector('[name="' + name.replace(/[^a-z0-9_]/g, "") + '"]');
      if (!field) return;
      field.setAttribute("aria-invalid", "true");
      field.classList.add("invalid");
      field.focus();
    });
  }

  function timeline() {
    var table = document.getElementById("timeline");
    if (!table || !window.EventSource) return;
    var labels = {};
    try { labels = JSON.parse(table.getAttribute("data-labels") || "{}"); } catch (e) { labels = {}; }
    var body = table.querySelector("tbody");
    var status = document.getElementById("timeline-status");
    var live = document.getElementById("project-live");
    var empty = document.getElementById("timeline-empty");

    function row(e) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-kind", e.kind);
      var time = document.createElement("td");
      time.className = "time";
      time.textContent = new Date(e.at_ms).toISOString().replace(/\.\d+Z$/, "Z");
      var kind = document.createElement("td");
      kind.textContent = labels["ev_" + e.kind] || e.kind;
      var details = document.createElement("td");
      var parts = [];
      if (e.message) parts.push(e.message);
      if (e.node != null) parts.push((labels.ev_node || "slave") + " #" + e.node);
      if (e.revision != null) parts.push((labels.ev_revision || "revision") + " " + e.revision);
      details.textContent = parts.join(" · ");
      tr.appendChild(time);
      tr.appendChild(kind);
      tr.appendChild(details);
      return tr;
    }
    function setStatus(on) {
      if (!status) return;
      status.hidden = false;
      status.className = "live-status " + (on ? "on" : "off");
      status.textContent = on ? labels.live_on : labels.live_off;
    }
    function refresh() {
      if (live && typeof window.commanderRefresh === "function") window.commanderRefresh(live);
    }

    var source = new EventSource(table.getAttribute("data-events"));
    source.addEventListener("open", function () { setStatus(true); });
    source.addEventListener("error", function () { setStatus(false); });
    source.addEventListener("timeline", function (event) {
      var list = JSON.parse(event.data);
      body.textContent = "";
      for (var i = list.length - 1; i >= 0; i--) body.appendChild(row(list[i]));
      if (empty) empty.hidden = list.length > 0;
    });
    source.addEventListener("event", function (event) {
      body.insertBefore(row(JSON.parse(event.data)), body.firstChild);
      if (empty) empty.hidden = true;
      refresh();
    });
    source.addEventListener("end", function () {
      source.close();
      setStatus(false);
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    markError();
    timeline();
  });
})();
