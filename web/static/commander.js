// Commander console script. The Content-Security-Policy forbids inline scripts, so every
// behaviour lives here, attached through data attributes:
//   <form data-confirm="Remove container x?">  asks before submitting.
"use strict";

document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// The CSRF token of this page, for scripts that call the API with the session cookie:
//   fetch(url, { method: "POST", headers: { "X-CSRF-Token": commanderCsrf() } })
function commanderCsrf() {
  var meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}
window.commanderCsrf = commanderCsrf;
