// Commander console script. The Content-Security-Policy forbids inline scripts, so every
// behaviour lives here, attached through data attributes:
//   <form data-confirm="Remove container x?">  asks before submitting.
//   <form data-busy="Working…">                disables its button and shows the text while
//                                               the (long) request runs.
//   <div id="x" data-live-refresh="5">         is refreshed in place every 5 s from the
//                                               same page (no full reload, the rest of the
//                                               page, e.g. a half-typed search, stays);
//                                               from data-live-src instead when given (a
//                                               page answering a POST names its own GET).
//   <div id="x" data-alert-refresh>            is refreshed the same way as soon as an
//                                               alert fires or resolves (see below).
"use strict";

document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
    return;
  }
  var busy = form.getAttribute("data-busy");
  if (busy) {
    var button = form.querySelector("button[type=submit]");
    if (button) {
      // Disable after the submission has started, so the request still goes out.
      window.setTimeout(function () {
        button.disabled = true;
        button.textContent = busy;
        button.classList.add("busy");
      }, 0);
    }
  }
});

// The CSRF token of this page, for scripts that call the API with the session cookie:
//   fetch(url, { method: "POST", headers: { "X-CSRF-Token": commanderCsrf() } })
function commanderCsrf() {
  var meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}
window.commanderCsrf = commanderCsrf;

// Live regions: fetch this page again and swap the region's content when it changed.
function commanderRefresh(region) {
  if (document.hidden) return;
  var src = region.getAttribute("data-live-src") || window.location.href;
  fetch(src, { credentials: "same-origin", cache: "no-store" })
    .then(function (response) {
      var path = new URL(response.url).pathname;
      if (response.redirected && (path === "/login" || path === "/register")) {
        window.location.assign(response.url);
        return null;
      }
      return response.ok ? response.text() : null;
    })
    .then(function (html) {
      if (!html) return;
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(region.id);
      if (fresh && fresh.innerHTML !== region.innerHTML) {
        region.innerHTML = fresh.innerHTML;
        region.setAttribute("data-refreshed", String(Date.now()));
      }
    })
    .catch(function () { /* offline for a moment: the next tick tries again */ });
}

window.commanderRefresh = commanderRefresh;

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-live-refresh]").forEach(function (region) {
    var seconds = parseInt(region.getAttribute("data-live-refresh"), 10) || 5;
    if (!region.id) return;
    window.setInterval(function () { commanderRefresh(region); }, seconds * 1000);
  });
});

// Alerts, on every signed-in page: the navigation's badge (#alert-badge) counts the alerts
// firing now and a toast (#alert-toast, text from its data-text) appears when one fires,
// fed by the Server-Sent Events of /api/v1/alerts/events (an `active` snapshot first and
// after a lag, then one `alert` event per change). Live regions (data-live-refresh, and
// data-alert-refresh on the alerts page) are refreshed at once when an alert changes, so
// the alerts page and the home page's count follow without a reload. EventSource
// reconnects by itself after a network error; an `end` event (session over) stops it.
function commanderAlerts() {
  var badge = document.getElementById("alert-badge");
  if (!badge || !window.EventSource) return;
  var toast = document.getElementById("alert-toast");
  var active = {};
  var primed = false;
  var hideTimer = 0;

  function draw() {
    var n = Object.keys(active).length;
    badge.textContent = String(n);
    badge.setAttribute("data-count", String(n));
    badge.hidden = n === 0;
  }
  function refreshRegions() {
    document.querySelectorAll("[data-alert-refresh], [data-live-refresh]").forEach(function (region) {
      if (region.id) commanderRefresh(region);
    });
  }
  function show(alert) {
    if (!toast) return;
    var name = alert.node_name || (alert.node ? "#" + alert.node : "–");
    var text = alert.rule && alert.rule !== "node_offline"
      ? (toast.getAttribute("data-text-rule") || "{rule}: {summary}")
        .replace("{rule}", alert.rule_name || alert.rule)
        .replace("{summary}", alert.summary || "").replace("{name}", name)
      : (toast.getAttribute("data-text") || "{name}")
        .replace("{name}", name).replace("{id}", String(alert.node));
    toast.querySelector(".toast-text").textContent = text;
    toast.setAttribute("data-alert", String(alert.id));
    toast.hidden = false;
    window.clearTimeout(hideTimer);
    hideTimer = window.setTimeout(function () { toast.hidden = true; }, 15000);
  }
  if (toast) {
    toast.querySelector(".toast-close").addEventListener("click", function () { toast.hidden = true; });
  }

  var source = null;
  function connect() {
    source = new EventSource("/api/v1/alerts/events");
    source.addEventListener("open", function () { badge.setAttribute("data-live", "on"); });
    source.addEventListener("error", function () { badge.setAttribute("data-live", "off"); });
    source.addEventListener("active", function (event) {
      var list = [];
      try { list = JSON.parse(event.data) || []; } catch (e) { return; }
      var before = Object.keys(active).sort().join(",");
      active = {};
      list.forEach(function (a) { active[a.id] = a; });
      draw();
      // A snapshot after a reconnect or a lag may hide changes: update the regions.
      if (primed && Object.keys(active).sort().join(",") !== before) refreshRegions();
      primed = true;
    });
    source.addEventListener("alert", function (event) {
      var a;
      try { a = JSON.parse(event.data); } catch (e) { return; }
      if (a.state === "firing") {
        var fresh = !active[a.id];
        active[a.id] = a;
        if (fresh) show(a);
      } else {
        delete active[a.id];
      }
      draw();
      refreshRegions();
    });
    source.addEventListener("end", function () {
      disconnect();
      badge.setAttribute("data-live", "off");
    });
  }
  function disconnect() {
    if (source) source.close();
    source = null;
  }
  connect();
  // Browsers open few connections per server: a page left behind (or kept in the
  // back-forward cache) must not hold its stream.
  window.addEventListener("pagehide", disconnect);
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && !source) connect();
  });
}

document.addEventListener("DOMContentLoaded", commanderAlerts);

// Copy buttons: <button data-copy="ID" data-copied="Copied"> copies the value (or text) of
// element ID to the clipboard and says so on the button for two seconds.
document.addEventListener("click", function (event) {
  var button = event.target instanceof Element ? event.target.closest("[data-copy]") : null;
  if (!button) return;
  var source = document.getElementById(button.getAttribute("data-copy"));
  if (!source) return;
  var text = "value" in source ? source.value : source.textContent;
  var done = function () {
    var label = button.textContent;
    button.textContent = button.getAttribute("data-copied") || label;
    window.setTimeout(function () { button.textContent = label; }, 2000);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, function () {});
  } else if (typeof source.select === "function") {
    source.select();
    if (document.execCommand("copy")) done();
  }
});
