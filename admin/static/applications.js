// The Applications wizard, made livelier in the browser. Everything also works without it: the
// server validates every step and re-renders; this only saves clicks and round trips.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    // Step 1: choosing a kind or an application re-renders the form with its fields and description.
    document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
      form.addEventListener("change", function (event) {
        if (event.target.name === "kind") {
          var app = form.querySelector("select[name=app]");
          if (app) app.value = "";
        }
        form.submit();
      });
    });

    // Step 1 and edit: Next stays disabled until every required field is valid.
    document.querySelectorAll("form[data-validate]").forEach(function (form) {
      var next = form.querySelector("[data-next]");
      function check() {
        form.querySelectorAll("[data-pattern]").forEach(function (input) {
          // The catalog's patterns are Python regexes; checked here, not with the pattern
          // attribute, whose "v" flag rejects some of them.
          var ok = !input.value || new RegExp(input.dataset.pattern).test(input.value);
          input.setCustomValidity(ok ? "" : input.dataset.patternMessage || "invalid");
        });
        if (next) next.disabled = !form.checkValidity();
      }
      form.addEventListener("input", check);
      form.addEventListener("change", check);
      check();
    });

    // Step 2: the header box ticks the page; each change is saved at once and the count updated.
    var picker = document.getElementById("picker");
    if (!picker) return;
    var header = document.getElementById("select-page");
    var boxes = Array.prototype.slice.call(picker.querySelectorAll("input[name=pick]"));
    var count = document.getElementById("selected-count");

    function syncHeader() {
      if (!header) return;
      var ticked = boxes.filter(function (b) { return b.checked; }).length;
      header.checked = ticked === boxes.length && boxes.length > 0;
      header.indeterminate = ticked > 0 && ticked < boxes.length;
    }

    function save() {
      var data = new URLSearchParams();
      data.append("shown", picker.elements.shown.value);
      boxes.forEach(function (b) {
        if (b.checked) data.append("pick", b.value);
        b.closest("tr").classList.toggle("is-selected", b.checked);
      });
      picker.setAttribute("aria-busy", "true");
      fetch(picker.dataset.selectionUrl, {
        method: "POST",
        headers: { "X-CSRF-Token": picker.elements.csrf_token.value },
        body: data,
        credentials: "same-origin",
      })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (result) {
          if (result && count) count.textContent = result.text;
        })
        .finally(function () { picker.removeAttribute("aria-busy"); });
    }

    if (header) {
      header.addEventListener("change", function () {
        boxes.forEach(function (b) { b.checked = header.checked; });
        header.indeterminate = false;
        save();
      });
    }
    boxes.forEach(function (b) {
      b.addEventListener("change", function () { syncHeader(); save(); });
    });
    syncHeader();
  });
})();
