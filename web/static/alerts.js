// The alert rule and silence pages: a form's fields are checked in the browser before it
// is sent (required fields, numbers, the scope's value), each error shown next to its
// field in the page's language (texts from the form's data-err-* attributes); the server
// checks everything again. The event metrics hide the threshold fields. Forms with
// data-confirm ask before they are sent (deleting a rule).
(function () {
  "use strict";

  function fieldError(form, name, text) {
    var span = form.querySelector('.field-error[data-for="' + name + '"]');
    if (span) span.textContent = text;
    return text ? 1 : 0;
  }

  function isNumber(v) { return v !== "" && isFinite(Number(v)); }
  function isWhole(v) { return /^[0-9]+$/.test(v); }
  var EVENTS = ["node_offline", "container_exited", "rollout_rolled_back"];

  function checkRule(form) {
    var t = form.dataset, errors = 0;
    var val = function (n) { var el = form.elements[n]; return el ? el.value.trim() : ""; };
    var event = EVENTS.indexOf(val("metric")) >= 0;
    errors += fieldError(form, "name", val("name") ? "" : t.errRequired);
    var scope = val("scope"), sv = val("scope_value");
    var scopeOk = scope === "all" || (scope === "node" ? isWhole(sv) && Number(sv) > 0 : sv !== "");
    errors += fieldError(form, "scope", scopeOk ? "" : t.errScope);
    if (!event) {
      errors += fieldError(form, "threshold", val("threshold") === "" ? t.errRequired :
        (isNumber(val("threshold")) ? "" : t.errNumber));
      errors += fieldError(form, "for_s", val("for_s") === "" || isWhole(val("for_s")) ? "" : t.errWhole);
      errors += fieldError(form, "recover_threshold",
        val("recover_threshold") === "" || isNumber(val("recover_threshold")) ? "" : t.errNumber);
    }
    return errors === 0;
  }

  function checkSilence(form) {
    var t = form.dataset, errors = 0;
    var val = function (n) { var el = form.elements[n]; return el ? el.value.trim() : ""; };
    errors += fieldError(form, "rule", val("rule") ? "" : t.errRequired);
    errors += fieldError(form, "node", val("node") === "" || isWhole(val("node")) ? "" : t.errWhole);
    errors += fieldError(form, "until", isWhole(val("minutes")) && Number(val("minutes")) > 0 ? "" : t.errWhole);
    return errors === 0;
  }

  function toggleThreshold(form) {
    var metric = form.elements.metric, box = document.getElementById("threshold-fields");
    if (!metric || !box) return;
    box.hidden = EVENTS.indexOf(metric.value) >= 0;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var rule = document.getElementById("rule-form");
    if (rule) {
      toggleThreshold(rule);
      rule.elements.metric.addEventListener("change", function () { toggleThreshold(rule); });
      rule.addEventListener("submit", function (e) { if (!checkRule(rule)) e.preventDefault(); });
    }
    var silence = document.getElementById("silence-form");
    if (silence) {
      silence.setAttribute("novalidate", "");
      silence.addEventListener("submit", function (e) { if (!checkSilence(silence)) e.preventDefault(); });
    }
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (e) {
        if (!window.confirm(form.getAttribute("data-confirm"))) e.preventDefault();
      });
    });
  });
})();
