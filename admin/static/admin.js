// Every page: a form sent once. A second click on "Enregistrer" while the first is on its way
// would send the same change again and land on "Rien à enregistrer" though the change was
// saved; so a POST form on its way ignores further submits and its buttons say it is busy.
// Forms a page's own script sends itself (it cancels the submit) are left alone.
(function () {
  "use strict";
  var RELEASE_AFTER_MS = 10000; // a download or a lost answer must not lock the form for good

  function release(form) {
    delete form.dataset.sending;
    form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (button) {
      button.removeAttribute("aria-disabled");
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || (form.method || "").toLowerCase() !== "post") return;
    if (form.dataset.sending) {
      event.preventDefault();
      return;
    }
    form.dataset.sending = "1";
    form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (button) {
      button.setAttribute("aria-disabled", "true");
    });
    window.setTimeout(function () { release(form); }, RELEASE_AFTER_MS);
  });

  // Back to a page kept by the browser: its forms can be sent again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-sending]").forEach(release);
  });
})();
