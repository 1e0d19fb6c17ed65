// Commander console script. The Content-Security-Policy forbids inline scripts, so every
// behaviour lives here, attached through data attributes:
//   <form data-confirm="Remove container x?">  asks before submitting.
//   <form data-busy="Working…">                disables its button and shows the text while
//                                               the (long) request runs.
//   <div id="x" data-live-refresh="5">         is refreshed in place every 5 s from the
//                                               same page (no full reload, the rest of the
//                                               page, e.g. a half-typed search, stays).
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
  fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
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

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-live-refresh]").forEach(function (region) {
    var seconds = parseInt(region.getAttribute("data-live-refresh"), 10) || 5;
    if (!region.id) return;
    window.setInterval(function () { commanderRefresh(region); }, seconds * 1000);
  });
});
