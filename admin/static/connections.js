// The connect wizard, made quicker in the browser. Everything also works without it: the server
// checks every row; this only ticks "authorize access" as you type and copies addresses.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    // Copy buttons: the address goes to the clipboard, the button says so for a moment.
    document.addEventListener("click", function (event) {
      var button = event.target.closest(".copy-button");
      if (!button) return;
      var text = button.getAttribute("data-copy");
      var label = button.querySelector(".copy-text");
      var before = label ? label.textContent : "";
      function done() {
        button.classList.add("is-copied");
        if (label) label.textContent = button.getAttribute("data-copied") || before;
        window.setTimeout(function () {
          button.classList.remove("is-copied");
          if (label) label.textContent = before;
        }, 1600);
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { select(button); });
      } else {
        select(button);
        try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected */ }
      }
    });

    function select(button) {
      var scratch = document.createElement("textarea");
      scratch.value = button.getAttribute("data-copy");
      scratch.setAttribute("readonly", "");
      scratch.className = "visually-hidden";
      document.body.appendChild(scratch);
      scratch.select();
      window.setTimeout(function () { scratch.remove(); }, 0);
    }

    // Step 2: typing a code or address, or asking for one, ticks "authorize access" on the row;
    // "generate" greys the address field out (Relais fills it in on save).
    var form = document.getElementById("connect-form");
    if (!form) return;
    form.querySelectorAll("tbody tr").forEach(function (row) {
      var box = row.querySelector(".auth-box");
      var input = row.querySelector(".value-input");
      var generate = row.querySelector(".generate-box");
      if (!box) return;
      function mark() { row.classList.toggle("is-selected", box.checked); }
      if (input) {
        input.addEventListener("input", function () {
          if (input.value.trim()) box.checked = true;
          mark();
        });
      }
      if (generate && input) {
        var sync = function () {
          input.disabled = generate.checked;
          if (generate.checked) box.checked = true;
          mark();
        };
        generate.addEventListener("change", sync);
        sync();
      }
      box.addEventListener("change", mark);
    });
    // A disabled field is not sent; the server keeps the row's address or generates one.
  });
})();
