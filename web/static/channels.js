// Notification channel pages: show only the chosen type's fields on the form, and send
// a channel's test through the API, showing its outcome next to the button.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  var type = document.getElementById("c-type");
  if (type) {
    var show = function () {
      document.querySelectorAll(".channel-fields").forEach(function (set) {
        var kinds = (set.getAttribute("data-types") || "").split(" ");
        var on = kinds.indexOf(type.value) >= 0;
        set.hidden = !on;
        set.disabled = !on;
      });
    };
    type.addEventListener("change", show);
    show();
    var form = document.getElementById("channel-form");
    var field = form && form.getAttribute("data-error-field");
    var input = field && document.querySelector('#channel-form [name="' + field + '"]');
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  }

  var table = document.getElementById("channels");
  if (!table) return;
  var labels = {};
  try {
    labels = JSON.parse(table.getAttribute("data-labels") || "{}");
  } catch (e) {
    labels = {};
  }
  table.querySelectorAll("form.channel-test").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var name = form.getAttribute("data-name");
      var button = form.querySelector("button");
      var out = form.querySelector(".test-outcome");
      button.disabled = true;
      out.className = "test-outcome";
      out.textContent = labels.testing || "";
      fetch("/api/v1/alerts/channels/" + encodeURIComponent(name) + "/test", {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": window.commanderCsrf ? window.commanderCsrf() : "" },
      })
        .then(function (r) {
          return r.json().then(function (body) {
            return { ok: r.ok, body: body };
          });
        })
        .then(function (answer) {
          var b = answer.body || {};
          if (answer.ok && b.outcome === "delivered") {
            out.className = "test-outcome badge badge-ok";
            out.textContent = labels.outcome_delivered || "delivered";
          } else {
            out.className = "test-outcome error-text";
            var why = answer.ok ? b.last_error : b.error;
            out.textContent = (labels.outcome_failed || "failed") + (why ? ": " + why : "");
          }
        })
        .catch(function (e) {
          out.className = "test-outcome error-text";
          out.textContent = (labels.outcome_failed || "failed") + ": " + e;
        })
        .then(function () {
          button.disabled = false;
        });
    });
  });
});
