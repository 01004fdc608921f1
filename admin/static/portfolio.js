// Opens "Applications" / "Propose a service" links as a modal over the list. Without this file
// the same links open the dialog as a page, and every action still works.
(function () {
  "use strict";

  function dialogElement() {
    var dialog = document.getElementById("apps-dialog");
    if (!dialog) {
      dialog = document.createElement("dialog");
      dialog.id = "apps-dialog";
      dialog.className = "apps-dialog";
      dialog.addEventListener("close", function () { dialog.innerHTML = ""; });
      document.body.appendChild(dialog);
    }
    return dialog;
  }

  function wire(root) {
    if (root.tagName === "DIALOG") {
      root.querySelectorAll("[data-dialog-close]").forEach(function (link) {
        link.addEventListener("click", function (event) {
          event.preventDefault();
          root.close();
        });
      });
    }
    // Ticking a contact under an application that is off switches it on: that is what it means.
    root.querySelectorAll(".app-contacts input[type=checkbox]").forEach(function (box) {
      box.addEventListener("change", function () {
        var item = box.closest(".app-item");
        var toggle = item && item.querySelector(".switch");
        if (box.checked && toggle && !toggle.checked && !toggle.disabled) { toggle.checked = true; }
      });
    });
  }

  async function open(url) {
    var separator = url.indexOf("?") === -1 ? "?" : "&";
    var response = await fetch(url + separator + "partial=1", { credentials: "same-origin" });
    if (!response.ok) { throw new Error("dialog " + response.status); }
    var dialog = dialogElement();
    dialog.innerHTML = await response.text();
    var title = dialog.querySelector("#apps-title");
    if (title) { dialog.setAttribute("aria-labelledby", "apps-title"); }
    wire(dialog);
    dialog.showModal();
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.js-dialog");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) { return; }
    event.preventDefault();
    open(link.getAttribute("href")).catch(function () { window.location.href = link.href; });
  });

  // On the dialog's own page, the same small behaviour applies.
  document.addEventListener("DOMContentLoaded", function () {
    var page = document.querySelector(".pf-dialog-page");
    if (page) { wire(page); }
  });
})();
